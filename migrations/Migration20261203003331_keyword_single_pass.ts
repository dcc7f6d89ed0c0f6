import { Migration } from '@mikro-orm/migrations';

/**
 * `sluice_keyword_search`: the keyword retriever's entry point (issue 19: "never slower than
 * today on small datasets"). Same arguments and rows as `sluice_bm25_search` (as
 * Migration20261203003315_bm25_document_idf defines it: idf over documents, `excluded`; not
 * redefined here). When the question's words are
 * in at most `single_pass_limit` chunks together (most questions on small datasets) it scores
 * them all in this one plain SQL statement; otherwise (and for search syntax) it hands the
 * question to `sluice_bm25_search`'s max-score steps.
 *
 * Why: `sluice_bm25_search` is PL/pgSQL; even its single pass paid five short statements and
 * the planning of a dynamic one (2.5 to 3 ms where the old ts_rank_cd statement took 1.2 to
 * 1.7). A `language sql` function that is one SELECT, stable and not strict is inlined into the
 * caller's statement by the planner: no procedural step at all.
 *
 * The scoring here is `sluice_bm25_search`'s single pass written as SQL, term for term and in
 * the same arithmetic order (idf over documents as numeric then float8, `idf * tf * 2.2 / (tf + norm)`, terms
 * summed rarest first), so both give bit-identical scores; test/endpoints/keyword-single-pass
 * .test.ts compares them. A change of the BM25 formula in `sluice_bm25_search` must be made
 * here too (that test fails until it is). Hand-written (a function).
 */
export const KEYWORD_SEARCH = String.raw`create or replace function sluice_keyword_search(dataset_ids uuid[], config regconfig, query text, strict boolean, top_k int, row_budget int, single_pass_limit int, excluded tsquery default null)
returns table (chunk_id uuid, document_id uuid, dataset_id uuid, title text, metadata jsonb, content text, score float8, complete boolean)
language sql stable
as $fn$
  with found as materialized (
    -- The question's lexemes' statistics rows in the datasets, read by (dataset, term) arrays
    -- so the unique index finds them (a join on the terms was planned as a scan of the
    -- dataset's whole vocabulary: see sluice_bm25_search).
    select x.dataset_id, x.term, x.chunk_count, x.document_count, d.search_document_count
      from dataset_terms x join datasets d on d.id = x.dataset_id
     where x.dataset_id = any(dataset_ids)
       and x.term = any(array(select distinct unnest(tsvector_to_array(to_tsvector(config, query)))))
  ), question as (
    -- Those lexemes rarest first (as sluice_bm25_search takes them), and at most how many
    -- chunks hold any of them (the sum of their counts). One row, nulls when none is found.
    select array_agg(s.term order by s.chunks, s.term) as terms, sum(s.chunks) as matching_chunks, query as text
      from (select term, sum(chunk_count) as chunks from found group by term) s
  ), small as (
    select q.terms,
           (select string_agg(lexeme_query(t)::text, ' | ')::tsquery from unnest(q.terms) as t) as any_word,
           (select string_agg(lexeme_query(t)::text, ' & ')::tsquery from unnest(q.terms) as t) as every_word
      from question q
     where not strict and q.matching_chunks <= single_pass_limit
  ), lengths as (
    select ds.id, greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1) as average
      from unnest(dataset_ids) as ds(id) left join datasets d on d.id = ds.id
  ), weights as materialized (
    -- Per dataset and term: the term's query and idf (0 where the dataset lacks the term).
    -- Materialized: inlined, it was recomputed for every candidate chunk.
    select ds.id as dataset_id, t.ord, lexeme_query(t.term) as term_query,
           coalesce(ln(1 + (x.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5)), 0)::float8 as idf
      from small q
      cross join unnest(q.terms) with ordinality as t(term, ord)
      cross join unnest(dataset_ids) as ds(id)
      left join found x on x.dataset_id = ds.id and x.term = t.term
  ), candidates as (
    select c.id, c.dataset_id, c.search, c.search @@ (select every_word from small) as complete,
           1.2 * (0.25 + 0.75 * length(c.search) / l.average) as norm
      from chunks c join lengths l on l.id = c.dataset_id
     where c.dataset_id = any(dataset_ids) and c.search @@ (select any_word from small)
       -- The question's exclusions (an exclusion of stop words only excludes nothing).
       and (excluded is null or numnode(excluded) = 0 or c.search @@ excluded)
  ), scored as (
    select c.id, c.complete, sum(w.idf * f.tf * 2.2 / (f.tf + c.norm) order by w.ord) as score
      from candidates c join weights w on w.dataset_id = c.dataset_id
      cross join lateral (select lexeme_frequency(c.search, w.term_query) as tf) f
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

export class Migration20261203003331_keyword_single_pass extends Migration {

  override async up(): Promise<void> {
    this.addSql(KEYWORD_SEARCH);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists sluice_keyword_search(uuid[], regconfig, text, boolean, int, int, int, tsquery);`);
  }

}
