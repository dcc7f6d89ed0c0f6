import { Migration } from '@mikro-orm/migrations';
import { editedSql } from './function-edits.js';
import { BM25_SEARCH_RARE_PAIRS } from './Migration20261203221500_keyword_pairs_without_common_words.js';

/**
 * `sluice_bm25_search`'s steps without planning at every search (issue 19: "never slower than
 * today on small datasets").
 *
 * Each step (complete passages, the first threshold, each word's step) was a dynamic statement
 * (`execute format(…)`: the score expression was written for the question's number of words),
 * which PostgreSQL parses, rewrites and plans at every execution: about 0.5 to 0.9 ms a step,
 * most of a search that takes the steps on a small dataset. Over bench/search.ts's 20 000 chunks,
 * the questions whose words are in more than `KEYWORD_SINGLE_PASS_LIMIT` chunks took 2 to 5.6 ms
 * (one of them, traced with auto_explain: 0.55 ms running its statements, 3.4 around them), and
 * some were slower than the ts_rank_cd statement they replaced ("dock jetty143 cluster67":
 * 5.6 ms against 3.7; one-off, 2026-12-05).
 *
 * - A question of up to 8 words (nearly all: as in `sluice_keyword_search`'s single pass) now
 *   runs each step as a static statement, with each word's frequency a column `t1` … `t8` (null
 *   past the question's words, adding nothing: the scores stay bit-identical, summed in the
 *   same order) and the step's clauses as PL/pgSQL variables. PL/pgSQL keeps a static
 *   statement's plan for the connection.
 * - The function sets `plan_cache_mode = force_generic_plan` for its own statements: left to
 *   choose, PostgreSQL kept planning each execution anew (a plan made for the step's own words,
 *   its estimate lower than the generic one's), which saved nothing (measured: no faster). The
 *   generic plan finds a step's chunks through the GIN index (`chunks_search_index`), and the
 *   statistics rows through their unique index.
 * - That path suits a step that reads no more chunks than the search may still score (its
 *   row budget): it scores all of them anyway. A step for a word in more chunks than that, the
 *   complete passages of a question whose rarest word is, the first threshold of a question
 *   whose words are, and search syntax (an OR can match more than any one word) keep the
 *   dynamic statement: they stop at the budget, and a plan made for their words may read the
 *   table in order up to it, where the index would first read each word's whole posting list
 *   (at 1 M chunks with the steps of words in up to a tenth of the chunks static, the search's
 *   median fell by 1.5 ms but its p95 and p99 rose by about 1 ms in three runs of four; one-off,
 *   2026-12-05).
 * - Longer questions keep the dynamic statements.
 *
 * Same arguments, rows, scores and chunks scored. Hand-written (a function); the function is
 * 221500's with its three step statements changed (checked below) and the setting added.
 */

const UNROLLED = 8;
const each = (text: (i: number) => string, separator: string) => Array.from({ length: UNROLLED }, (_, i) => text(i + 1)).join(separator);

/** One step as a static statement (its plan kept by PL/pgSQL): the step's own clauses are arguments. */
const staticStep = (target: string, step: string, limit: string, keep: string, skipComplete: boolean, skipSeen: boolean) => `with scored as (
        select c.id, 0
               + ${each((i) => `coalesce(idfs[c.d * cardinality(terms) + ${i}] * c.t${i} * 2.2 / (c.t${i} + c.norm), 0)`, '\n               + ')} as score
          from (select f.id, f.d, f.norm,
                       ${each((i) => `case when cardinality(terms) >= ${i} then lexeme_frequency(f.search, term_queries[${i}]) end as t${i}`, ',\n                       ')}
                  from (select ch.id, ch.search, array_position(dataset_ids, ch.dataset_id) - 1 as d,
                               1.2 * (0.25 + 0.75 * length(ch.search) / average_lengths[array_position(dataset_ids, ch.dataset_id)]) as norm
                          from chunks ch
                         where ch.dataset_id = any(dataset_ids) and ch.search @@ ${step}
                           and (excluded is null or ch.search @@ excluded)${skipComplete ? '\n                           and not (ch.search @@ matching)' : ''}${skipSeen ? '\n                           and (seen is null or not (ch.search @@ seen))' : ''}
                         limit ${limit}) f) c)
      select (select count(*) from scored)::int,
             (select array_agg(s.id order by s.score desc, s.id) from (select * from scored order by score desc, id limit ${keep}) s),
             (select array_agg(s.score order by s.score desc, s.id) from (select * from scored order by score desc, id limit ${keep}) s)
        into ${target}`;

/** Each step's dynamic statement, and when its static form (a kept generic plan) serves instead. */
const sites: { dynamic: string; when: string; fixed: string }[] = [
  {
    // Complete passages of a plain question: at most the rarest word's chunks.
    dynamic: `  execute format(scored_steps, score_sql, format(candidates, frequencies, ''))
    into examined, complete_ids, complete_scores
    using dataset_ids, matching, term_queries, idfs, average_lengths, seen, matching, budget, top_k, excluded;
`,
    when: `cardinality(terms) <= ${UNROLLED} and not strict and term_chunks[1] <= budget`,
    fixed: staticStep('examined, complete_ids, complete_scores', 'matching', 'budget', 'top_k', false, false),
  },
  {
    // The first threshold reads the chunks of the words it pairs: at most all the question's.
    dynamic: `    execute format(scored_steps, score_sql, format(candidates, frequencies, 'and not (search @@ $7)'))
      into examined, ids, scores
      using dataset_ids, step, term_queries, idfs, average_lengths, seen, matching, least(budget, 20 * top_k), needed, excluded;
`,
    when: `cardinality(terms) <= ${UNROLLED} and matching_chunks <= budget`,
    fixed: staticStep('examined, ids, scores', 'step', 'least(budget, 20 * top_k)', 'needed', true, false),
  },
  {
    dynamic: `      execute format(scored_steps, score_sql, format(candidates, frequencies, 'and not (search @@ $7) and ($6::tsquery is null or not (search @@ $6))'))
        into examined, ids, scores
        using dataset_ids, step, term_queries, idfs, average_lengths, seen, matching, budget, needed, excluded;
`,
    when: `cardinality(terms) <= ${UNROLLED} and term_chunks[i] <= budget`,
    fixed: staticStep('examined, ids, scores', 'step', 'budget', 'needed', true, true),
  },
];

/** The function's own setting: generic plans for its statements. */
const edits: [string, string][] = [['rows 50\nas $fn$', 'rows 50\nset plan_cache_mode = force_generic_plan\nas $fn$']];

/** A step: its static statement when `when` holds, else the dynamic one as it was. */
const choices = sites.map(({ dynamic, when, fixed }) => {
  const indent = /^ */.exec(dynamic)![0];
  return [dynamic, `${indent}if ${when} then\n${indent}  ${fixed};\n${indent}else\n${dynamic.replace(/^/gm, '  ')}${indent}end if;\n`] as const;
});

export const BM25_SEARCH_STATIC_STEPS = editedSql(BM25_SEARCH_RARE_PAIRS, [...edits, ...choices], 'keyword_steps_cached_plans');

export class Migration20261205010000_keyword_steps_cached_plans extends Migration {
  override async up(): Promise<void> {
    this.addSql(BM25_SEARCH_STATIC_STEPS);
  }

  override async down(): Promise<void> {
    // create or replace sets every attribute anew: the setting goes with it.
    this.addSql(BM25_SEARCH_RARE_PAIRS);
  }
}
