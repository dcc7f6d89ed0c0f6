import { Migration } from '@mikro-orm/migrations';
import { editedSql } from './function-edits.js';
import { KEYWORD_SEARCH_WHEN_STEPS_SCORE_ALL } from './Migration20261205020000_keyword_single_pass_when_steps_score_all.js';

/**
 * `sluice_keyword_search` scores in its single pass two more kinds of question, within the row
 * budget, for which the max-score steps would save little or nothing (issue 19: "never slower
 * than today on small datasets"). Hand-written (a function); 020000's with the choice of path
 * edited (checked below).
 *
 * Unless the complete passages fill the top list, the steps score the rarest word's chunks
 * whole: before that step the threshold is 0 for a question of one or two words (and for a
 * longer one without a first threshold from pairs). Pruning can only skip the other words'
 * chunks, at the cost of a statement per word. So:
 *
 * - **Its words but the rarest are in at most `single_pass_limit` chunks together.** The steps
 *   run three statements or more to skip a few hundred chunks at most; the single pass scores
 *   them all in one. The rarest word is in no more chunks than the others together, so such a
 *   question of several words has at most twice `single_pass_limit` matching chunks.
 * - **Two words, the commoner one's bound at least the rarer one's** (a term's bound: the most
 *   it can add to a chunk's score, as `sluice_bm25_search` computes it from the statistics). The
 *   step for the commoner word is skipped, or narrowed, only when the top list's threshold is
 *   above its bound; the list then holds chunks with the rarer word alone, whose scores are at
 *   most the rarer word's bound. So the steps score every matching chunk, in three statements.
 *
 * Measured on the search benchmark's corpus (docs/benchmarks.md; each machine generates its
 * own): at 20 000 chunks "ridge2 ferry2" (691 chunks, about half for each word; an earlier
 * machine) and "harvest3 summit2" took 3.7 to 5.1 ms through the steps against 3.1 to 3.8 for
 * the ts_rank_cd statement the search replaced, which ranks all of them, with a costlier function
 * than the single pass's; at 200 000, "census5 market12" (969 and 597 chunks, bounds 1.67 and
 * 1.55) 9.8 to 10.4 ms against 8.1, and 8.2 in one pass. The price: a question whose complete
 * passages fill the list is scored whole where the steps stopped after them ("ridge2 ferry2" on
 * this machine's corpus: 4.3 ms against 1.7, the ts_rank_cd statement 4.5). Exact either way: the
 * same chunks scored with the same arithmetic (test/endpoints/keyword-single-pass.test.ts).
 */
const edits: [string, string][] = [
  [
    `    select x.dataset_id, x.term, x.chunk_count, x.document_count, d.search_document_count
      from dataset_terms x join datasets d on d.id = x.dataset_id`,
    `    select x.dataset_id, x.term, x.chunk_count, x.document_count, d.search_document_count,
           -- The term's bound in this dataset, as sluice_bm25_search computes it.
           ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5))
             * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
               / greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1))) * 1.000001 as bound
      from dataset_terms x join datasets d on d.id = x.dataset_id`,
  ],
  [
    `    -- single_pass: few matching chunks, or the steps would score all of them anyway (the words
    -- but the commonest in fewer chunks than top_k, all of them within the row budget).
    select array_agg(s.term order by s.chunks, s.term) as terms, sum(s.chunks) as matching_chunks, query as text,
           not strict and (sum(s.chunks) <= single_pass_limit or (sum(s.chunks) <= row_budget and sum(s.chunks) - max(s.chunks) < top_k)) as single_pass
      from (select term, sum(chunk_count) as chunks from found group by term) s`,
    `    -- single_pass: few matching chunks; or, within the row budget, the steps would score all of
    -- them anyway (the words but the commonest in fewer chunks than top_k; two words, the
    -- commoner one's bound at least the rarer one's) or could skip only a few (the words but the
    -- rarest in at most single_pass_limit chunks). See Migration20261205110000_keyword_single_pass_when_steps_save_little.
    select array_agg(s.term order by s.chunks, s.term) as terms, sum(s.chunks) as matching_chunks, query as text,
           not strict and (sum(s.chunks) <= single_pass_limit
                           or (sum(s.chunks) <= row_budget
                               and (sum(s.chunks) - max(s.chunks) < top_k
                                    or sum(s.chunks) - min(s.chunks) <= single_pass_limit
                                    or (count(*) = 2 and (array_agg(s.bound order by s.chunks, s.term))[2] >= (array_agg(s.bound order by s.chunks, s.term))[1])))) as single_pass
      from (select term, sum(chunk_count) as chunks, max(bound) as bound from found group by term) s`,
  ],
];

export const KEYWORD_SEARCH_WHEN_STEPS_SAVE_LITTLE = editedSql(KEYWORD_SEARCH_WHEN_STEPS_SCORE_ALL, edits, 'keyword_single_pass_when_steps_save_little');

export class Migration20261205110000_keyword_single_pass_when_steps_save_little extends Migration {
  override async up(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_WHEN_STEPS_SAVE_LITTLE);
  }

  override async down(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_WHEN_STEPS_SCORE_ALL);
  }
}
