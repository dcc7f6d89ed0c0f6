import { Migration } from '@mikro-orm/migrations';
import { editedSql } from './function-edits.js';
import { KEYWORD_SEARCH_WHEN_STEPS_SAVE_LITTLE } from './Migration20261205110000_keyword_single_pass_when_steps_save_little.js';

/**
 * `sluice_keyword_search`'s single pass scores its candidates as they are read, in one branch,
 * without copying them into a tuple store (issue 19: "never slower than today on small
 * datasets"). Hand-written (a function); 110000's with the candidates and their scoring edited
 * (checked below).
 *
 * The candidates (every matching chunk with its length normalisation and each word's frequency)
 * were a materialized CTE, so that each frequency is computed once though the score names it
 * twice, read by two branches of a UNION ALL (short questions, from the frequency columns;
 * longer ones, summed over a join with their words and grouped by chunk), of which one ran.
 * Materializing wrote every candidate to a tuple store and read it back. Now the candidates are
 * a subquery kept from being merged into the scoring (`offset 0`: each column is still computed
 * once per row), read once by one SELECT whose score is a CASE: the columns' sum for a short
 * question, for a longer one the same ordered sum over its words in a subquery per candidate
 * (the same additions in the same order: the same bits).
 *
 * One-off probe, each of the search benchmark's 400 questions, the fastest of 5 runs of each
 * form, alternated (docs/benchmarks.md): through the single pass forced for all of them at
 * 200 000 chunks, the materialized CTE 2 031 ms in all against 1 859 with the CTE inlined into
 * both branches and, in another run, that form 1 912 against 1 841 in one branch; at 20 000 as
 * the search routes, 546 against 500, then 655 against 603. At 1 M chunks, where most questions
 * take the steps and the statement is only set up, within 1 % (2 501 against 2 529 ms in all).
 * Same rows, same scores (test/endpoints/keyword-single-pass.test.ts).
 */
const edits: [string, string][] = [
  [
    `  ), candidates as materialized (
    -- Every chunk holding a word, with its length normalisation and, for a short question,
    -- each word's frequency (null past the question's words). Materialized so each frequency
    -- is read once, though the score names it twice; the text-search vector only for a long
    -- question (copying it into the materialized rows measured a tenth of a short search).`,
    `  ), candidates as not materialized (
    -- Every chunk holding a word, with its length normalisation and, for a short question,
    -- each word's frequency (null past the question's words). Not merged into the scoring
    -- (offset 0) so each frequency is read once, though the score names it twice, and not
    -- materialized: rows are scored as they come (Migration20261205120000_keyword_single_pass_candidates_unmaterialized).
    -- The text-search vector only for a long question.`,
  ],
  [
    `       and (excluded is null or numnode(excluded) = 0 or c.search @@ excluded)
  ), scored as (`,
    `       and (excluded is null or numnode(excluded) = 0 or c.search @@ excluded)
    offset 0
  ), scored as (`,
  ],
  [
    `    offset 0
  ), scored as (
    -- BM25 (k1 1.2, b 0.75): idf · tf · 2.2 / (tf + norm), summed rarest term first.
    select id, complete, 0
           + coalesce(idfs[1] * f1 * 2.2 / (f1 + norm), 0)
           + coalesce(idfs[2] * f2 * 2.2 / (f2 + norm), 0)
           + coalesce(idfs[3] * f3 * 2.2 / (f3 + norm), 0)
           + coalesce(idfs[4] * f4 * 2.2 / (f4 + norm), 0)
           + coalesce(idfs[5] * f5 * 2.2 / (f5 + norm), 0)
           + coalesce(idfs[6] * f6 * 2.2 / (f6 + norm), 0)
           + coalesce(idfs[7] * f7 * 2.2 / (f7 + norm), 0)
           + coalesce(idfs[8] * f8 * 2.2 / (f8 + norm), 0) as score
      from candidates
     where (select short from small)
    union all
    select c.id, c.complete, sum(c.idfs[t.ord] * f.tf * 2.2 / (f.tf + c.norm) order by t.ord)
      from candidates c
      cross join unnest((select term_queries from small)) with ordinality as t(term_query, ord)
      cross join lateral (select lexeme_frequency(c.search, t.term_query) as tf) f
     where not (select short from small)
     group by c.id, c.complete
  ), best as (`,
    `    offset 0
  ), scored as (
    -- BM25 (k1 1.2, b 0.75): idf · tf · 2.2 / (tf + norm), summed rarest term first: a short
    -- question's from its frequency columns, a longer one's over its words, per candidate.
    select c.id, c.complete,
           case when (select short from small) then 0
                + coalesce(c.idfs[1] * c.f1 * 2.2 / (c.f1 + c.norm), 0)
                + coalesce(c.idfs[2] * c.f2 * 2.2 / (c.f2 + c.norm), 0)
                + coalesce(c.idfs[3] * c.f3 * 2.2 / (c.f3 + c.norm), 0)
                + coalesce(c.idfs[4] * c.f4 * 2.2 / (c.f4 + c.norm), 0)
                + coalesce(c.idfs[5] * c.f5 * 2.2 / (c.f5 + c.norm), 0)
                + coalesce(c.idfs[6] * c.f6 * 2.2 / (c.f6 + c.norm), 0)
                + coalesce(c.idfs[7] * c.f7 * 2.2 / (c.f7 + c.norm), 0)
                + coalesce(c.idfs[8] * c.f8 * 2.2 / (c.f8 + c.norm), 0)
           else (select sum(c.idfs[t.ord] * f.tf * 2.2 / (f.tf + c.norm) order by t.ord)
                   from unnest((select term_queries from small)) with ordinality as t(term_query, ord)
                   cross join lateral (select lexeme_frequency(c.search, t.term_query) as tf) f)
           end as score
      from candidates c
  ), best as (`,
  ]
];

export const KEYWORD_SEARCH_CANDIDATES_UNMATERIALIZED = editedSql(KEYWORD_SEARCH_WHEN_STEPS_SAVE_LITTLE, edits, 'keyword_single_pass_candidates_unmaterialized');

export class Migration20261205120000_keyword_single_pass_candidates_unmaterialized extends Migration {
  override async up(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_CANDIDATES_UNMATERIALIZED);
  }

  override async down(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_WHEN_STEPS_SAVE_LITTLE);
  }
}
