import { Migration } from '@mikro-orm/migrations';
import { editedSql } from './function-edits.js';
import { KEYWORD_SEARCH_UNROLLED } from './Migration20261203091424_keyword_unrolled_single_pass.js';

/**
 * `sluice_keyword_search` scores in its single pass, besides questions whose words are in few
 * chunks, those for which the max-score steps would score every matching chunk anyway (issue
 * 19: "never slower than today on small datasets").
 *
 * When the words other than the commonest are in fewer chunks together than the top list holds,
 * the list cannot fill before the commonest word's step: until it is full the threshold is 0,
 * nothing is pruned, and that step scores every chunk holding the word. With no more matching
 * chunks than the row budget, the steps then score exactly the chunks the single pass scores,
 * in three or four statements instead of one. Over 2 000 generated chunks "river ledger256"
 * ("river" in 1 579 chunks, "ledger256" in 2) took 5.7 ms that way against 4.7 for the
 * ts_rank_cd statement it replaced (one-off, 2026-12-05); the single pass scores the same
 * 1 580 chunks, more cheaply per chunk than ts_rank_cd.
 *
 * Exact either way: the same chunks scored with the same arithmetic, complete passages first
 * (test/endpoints/keyword-single-pass.test.ts compares the two, bit for bit). Hand-written (a
 * function); 091424's with the choice of path changed (checked below).
 */
const edits: [string, string][] = [
  [
    `    select array_agg(s.term order by s.chunks, s.term) as terms, sum(s.chunks) as matching_chunks, query as text
      from (select term, sum(chunk_count) as chunks from found group by term) s`,
    `    -- single_pass: few matching chunks, or the steps would score all of them anyway (the words
    -- but the commonest in fewer chunks than top_k, all of them within the row budget).
    select array_agg(s.term order by s.chunks, s.term) as terms, sum(s.chunks) as matching_chunks, query as text,
           not strict and (sum(s.chunks) <= single_pass_limit or (sum(s.chunks) <= row_budget and sum(s.chunks) - max(s.chunks) < top_k)) as single_pass
      from (select term, sum(chunk_count) as chunks from found group by term) s`,
  ],
  [`     where not strict and q.matching_chunks <= single_pass_limit\n`, `     where q.single_pass\n`],
  [
    `   where q.matching_chunks is not null and (strict or q.matching_chunks > single_pass_limit)\n`,
    `   where q.matching_chunks is not null and not q.single_pass\n`,
  ],
];

export const KEYWORD_SEARCH_WHEN_STEPS_SCORE_ALL = editedSql(KEYWORD_SEARCH_UNROLLED, edits, 'keyword_single_pass_when_steps_score_all');

export class Migration20261205020000_keyword_single_pass_when_steps_score_all extends Migration {
  override async up(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_WHEN_STEPS_SCORE_ALL);
  }

  override async down(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_UNROLLED);
  }
}
