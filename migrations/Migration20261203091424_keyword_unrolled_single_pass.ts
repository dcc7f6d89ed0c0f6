import { Migration } from '@mikro-orm/migrations';
import { KEYWORD_SEARCH } from './Migration20261203003331_keyword_single_pass.js';

/**
 * `sluice_keyword_search`'s single pass, cheaper per matching chunk (issue 19: "never slower than
 * today on small datasets"; at 20 000 chunks its median was 1.3 times the old ts_rank_cd
 * statement's). Profiled with the backend's CPU time per statement (docs/benchmarks.md): the
 * single pass joined every candidate chunk to one row per question word, sorted those rows
 * (tsvector and all) and summed them in an ordered aggregate; that, not the scoring, was most
 * of its cost.
 *
 * - **Questions of up to 8 words** (almost every question typed): each candidate's term
 *   frequencies are columns `f1` … `f8`, read once each, and its score one expression over
 *   them. No join, sort or aggregate per candidate. Columns past the question's words are null
 *   and add nothing (`coalesce(…, 0)`). More columns cost every search (each is compiled at
 *   every execution): 16 measured about 0.3 ms more than 8 on 2- and 3-word questions. Each
 *   word's query is read once (`(select term_queries[i] from small)`), not taken out of the
 *   array again for every chunk.
 * - **Longer questions** keep the join and ordered sum (the previous single pass), in the same
 *   statement: no procedural step for them either.
 * - The length normalisation multiplies `0.75::float8` (it was `0.75` numeric, converted to
 *   float8 through text for every candidate). The same value: 0.75 × a length is exact in
 *   float8, so the scores stay bit-identical to `sluice_bm25_search`'s (test/endpoints/
 *   keyword-single-pass.test.ts compares them).
 *
 * Same arguments, rows, arithmetic order (terms summed rarest first; adding 0.0 leaves a float8
 * unchanged) and hand-off to `sluice_bm25_search` as before. Hand-written (a function).
 */
const UNROLLED = 8;
const each = (text: (i: number) => string, separator: string) => Array.from({ length: UNROLLED }, (_, i) => text(i + 1)).join(separator);

export const KEYWORD_SEARCH_UNROLLED = String.raw`create or replace function sluice_keyword_search(dataset_ids uuid[], config regconfig, query text, strict boolean, top_k int, row_budget int, single_pass_limit int, excluded tsquery default null)
returns table (chunk_id uuid, document_id uuid, dataset_id uuid, title text, metadata jsonb, content text, score float8, complete boolean)
language sql stable
as $fn$
  with found as materialized (
    -- The question's lexemes' statistics rows in the datasets, read by (dataset, term) arrays
    -- so the unique index finds them (see sluice_bm25_search).
    select x.dataset_id, x.term, x.chunk_count, x.document_count, d.search_document_count
      from dataset_terms x join datasets d on d.id = x.dataset_id
     where x.dataset_id = any(dataset_ids)
       and x.term = any(array(select distinct unnest(tsvector_to_array(to_tsvector(config, query)))))
  ), question as (
    -- Those lexemes rarest first (as sluice_bm25_search takes them), and at most how many
    -- chunks hold any of them (the sum of their counts). One row, nulls when none is found.
    select array_agg(s.term order by s.chunks, s.term) as terms, sum(s.chunks) as matching_chunks, query as text
      from (select term, sum(chunk_count) as chunks from found group by term) s
  ), small as materialized (
    -- A question for the single pass: its words' queries, any of them, all of them.
    select q.terms, cardinality(q.terms) <= ${UNROLLED} as short,
           array(select lexeme_query(t.term) from unnest(q.terms) with ordinality as t(term, ord) order by t.ord) as term_queries,
           (select string_agg(lexeme_query(t)::text, ' | ')::tsquery from unnest(q.terms) as t) as any_word,
           (select string_agg(lexeme_query(t)::text, ' & ')::tsquery from unnest(q.terms) as t) as every_word
      from question q
     where not strict and q.matching_chunks <= single_pass_limit
  ), weights as materialized (
    -- Per dataset: its average chunk length and each term's idf (0 where it lacks the term).
    select ds.id as dataset_id,
           greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1) as average,
           array(select coalesce(ln(1 + (x.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5)), 0)::float8
                   from unnest(q.terms) with ordinality as t(term, ord)
                   left join found x on x.dataset_id = ds.id and x.term = t.term
                  order by t.ord) as idfs
      from small q
      cross join unnest(dataset_ids) as ds(id)
      left join datasets d on d.id = ds.id
  ), candidates as materialized (
    -- Every chunk holding a word, with its length normalisation and, for a short question,
    -- each word's frequency (null past the question's words). Materialized so each frequency
    -- is read once, though the score names it twice; the text-search vector only for a long
    -- question (copying it into the materialized rows measured a tenth of a short search).
    select c.id, c.dataset_id, case when not (select short from small) then c.search end as search, c.search @@ (select every_word from small) as complete, w.idfs,
           1.2 * (0.25 + 0.75::float8 * length(c.search) / w.average) as norm,
           ${each((i) => `case when (select short from small) then lexeme_frequency(c.search, (select term_queries[${i}] from small)) end as f${i}`, ',\n           ')}
      from chunks c join weights w on w.dataset_id = c.dataset_id
     where c.dataset_id = any(dataset_ids) and c.search @@ (select any_word from small)
       -- The question's exclusions (an exclusion of stop words only excludes nothing).
       and (excluded is null or numnode(excluded) = 0 or c.search @@ excluded)
  ), scored as (
    -- BM25 (k1 1.2, b 0.75): idf · tf · 2.2 / (tf + norm), summed rarest term first.
    select id, complete, 0
           + ${each((i) => `coalesce(idfs[${i}] * f${i} * 2.2 / (f${i} + norm), 0)`, '\n           + ')} as score
      from candidates
     where (select short from small)
    union all
    select c.id, c.complete, sum(c.idfs[t.ord] * f.tf * 2.2 / (f.tf + c.norm) order by t.ord)
      from candidates c
      cross join unnest((select term_queries from small)) with ordinality as t(term_query, ord)
      cross join lateral (select lexeme_frequency(c.search, t.term_query) as tf) f
     where not (select short from small)
     group by c.id, c.complete
  ), best as (
    select * from scored order by complete desc, score desc, id limit top_k
  )
  select c.id, c.document_id, c.dataset_id, d.title::text, d.metadata, c.content, b.score, b.complete
    from best b join chunks c on c.id = b.id join documents d on d.id = c.document_id
  union all
  -- More matching chunks, or search syntax: the max-score steps. The question's text is read
  -- from q, so the call is on the inner side of a nested loop and never runs for a small one.
  select s.*
    from question q
    cross join lateral sluice_bm25_search(dataset_ids, config, q.text, strict, top_k, row_budget, single_pass_limit, excluded) s
   where q.matching_chunks is not null and (strict or q.matching_chunks > single_pass_limit)
$fn$;`;

export class Migration20261203091424_keyword_unrolled_single_pass extends Migration {

  override async up(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_UNROLLED);
  }

  override async down(): Promise<void> {
    this.addSql(KEYWORD_SEARCH);
  }

}
