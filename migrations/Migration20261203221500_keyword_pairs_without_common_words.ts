import { Migration } from '@mikro-orm/migrations';
import { BM25_SEARCH_PRUNED } from './Migration20261203062000_keyword_search_pruning.js';

/**
 * Keyword search's first threshold (issue 19, "Performance"): the step that scores the first
 * 20 · topK chunks holding two of a question's 3 to 8 words now pairs only the words held by
 * at most a tenth of the datasets' chunks.
 *
 * Its tsquery is an OR of pairs, `(a & b) | (a & c) | (b & c)`, in which no word is required,
 * so the GIN index reads every word's whole posting list: with a word in most chunks ("river",
 * 767 000 of 1 M) that took 5 to 10 ms of a 20 ms search, to find chunks whose second word adds
 * almost nothing to their score (such a word's idf is small). Any scored chunks give a valid
 * threshold, so the search stays exact: the same formula and, where the row budget does not
 * bind, the same results (over bench/search.ts's 1 M chunks, 399 of its 400 questions gave the
 * same top 5; the other ran into the budget before and after, where which chunks fill it can
 * change). With fewer than two such words the step is skipped, as for two-word questions.
 * The pairs are written by `sluice_bm25_pairs`, its own function so that a test can read them;
 * bm25.test.ts checks a question that pairs only its rarer words against brute force.
 *
 * The function is 062000's with that step changed (replacements checked below), not restated.
 */
const PAIRS = String.raw`create or replace function sluice_bm25_pairs(term_queries tsquery[], term_chunks bigint[], dataset_chunks numeric)
returns tsquery
language sql immutable
as $fn$
-- The first threshold's tsquery: every pair of the terms held by at most a tenth of the
-- datasets' chunks, (a & b) | (a & c) | (b & c), in the terms' order; null with fewer than two.
with kept as (select q, i from unnest(term_queries, term_chunks) with ordinality as t(q, n, i) where n * 10 <= dataset_chunks)
select string_agg(format('(%s & %s)', a.q, b.q), ' | ' order by a.i, b.i)::tsquery
  from kept a join kept b on b.i > a.i
$fn$;`;

const replacements: [string, string][] = [
  [
    `  matching_chunks bigint;  -- at most this many chunks hold any of the terms (sum of their counts)\n`,
    `  matching_chunks bigint;  -- at most this many chunks hold any of the terms (sum of their counts)\n` +
      `  term_chunks bigint[];    -- how many chunks hold each term (in terms' order)\n`,
  ],
  [
    `  select array_agg(s.term order by s.chunks, s.term), array_agg(s.bound order by s.chunks, s.term), sum(s.chunks)\n    into terms, bounds, matching_chunks\n`,
    `  select array_agg(s.term order by s.chunks, s.term), array_agg(s.bound order by s.chunks, s.term), sum(s.chunks),\n         array_agg(s.chunks order by s.chunks, s.term)\n    into terms, bounds, matching_chunks, term_chunks\n`,
  ],
  [
    `  if not strict and needed > 0 and cardinality(terms) between 3 and 8 then
    select string_agg(format('(%s & %s)', a.q, b.q), ' | ')::tsquery into step
      from unnest(term_queries) with ordinality as a(q, i) join unnest(term_queries) with ordinality as b(q, i) on b.i > a.i;
`,
    `  -- Only the words held by at most a tenth of the chunks are paired (sluice_bm25_pairs): no word
  -- of an OR of pairs is required, so the GIN index would read a common word's whole posting
  -- list, for chunks its small idf hardly lifts. With fewer than two such words, no first threshold.
  if not strict and needed > 0 and cardinality(terms) between 3 and 8 then
    step := sluice_bm25_pairs(term_queries, term_chunks, (select sum(d.search_chunk_count) from datasets d where d.id = any(dataset_ids)));
  end if;
  if not strict and needed > 0 and cardinality(terms) between 3 and 8 and step is not null then
`,
  ],
];

export const BM25_SEARCH_RARE_PAIRS = replacements.reduce((sql, [from, to]) => {
  if (sql.split(from).length !== 2) throw new Error(`keyword_pairs_without_common_words: expected one occurrence of ${JSON.stringify(from.slice(0, 60))}`);
  return sql.replace(from, () => to);
}, BM25_SEARCH_PRUNED);

export class Migration20261203221500_keyword_pairs_without_common_words extends Migration {
  override async up(): Promise<void> {
    this.addSql(PAIRS);
    this.addSql(BM25_SEARCH_RARE_PAIRS);
  }

  override async down(): Promise<void> {
    this.addSql(BM25_SEARCH_PRUNED);
    this.addSql(`drop function sluice_bm25_pairs(tsquery[], bigint[], numeric);`);
  }
}
