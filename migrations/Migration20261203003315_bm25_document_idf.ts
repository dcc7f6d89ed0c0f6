import { Migration } from '@mikro-orm/migrations';
import { BM25_SEARCH_WITH_BOUNDS, STATISTICS_TRIGGER_WITH_BOUNDS } from './Migration20261202221500_bm25_term_bounds.js';

/**
 * Keyword search's idf counted over documents, and exclusions in plain questions (issue 19,
 * ranking quality; measured in docs/endpoints.md, "Ranking quality").
 *
 * - **idf over documents.** BM25 scores passages (chunks), but how rare a word is belongs to the
 *   collection of documents: a word a long document repeats through its ten chunks is in one
 *   document, not ten, and chunking should not make it look common. `dataset_terms.document_count`
 *   (documents with a chunk holding the term) and `datasets.search_document_count` (documents
 *   with chunks) are kept exact by the statistics trigger in the same statement as the chunk
 *   counts. A document's chunks may come in several statements (the writer inserts them in
 *   batches) and go in one: the trigger counts a (document, term) pair only where no other chunk
 *   of that document, left in place by the statement, holds the term. Such chunks exist only
 *   for a document written over more than one batch, so the common case costs one index probe
 *   per document and a count of distinct documents per term: inserting Cranfield's chunks (four
 *   copies, 8 392 chunks in batches of 2 000) took 16.3 s against 13.3 s with the trigger before
 *   (medians of four, alternated, load average 18 on 2 cores; one-off). Term frequency and
 *   length normalisation stay per chunk.
 * - **Exclusions in plain questions.** `sluice_bm25_search` takes an eighth argument, `excluded`
 *   (a tsquery such as `!'dash'`, or null): chunks that do not satisfy it are never candidates.
 *   The retriever uses it for a question whose only search syntax is `-word`: it is read as
 *   plain words (any of them, all of them first) minus the excluded ones, where it used to
 *   require every other word.
 */
export const STATISTICS_TRIGGER_WITH_DOCUMENTS = `create or replace function chunks_search_statistics() returns trigger
  language plpgsql as $fn$
  declare
    emptied uuid[];
    kept uuid[];       -- chunks of the statement's documents that the statement leaves in place
    continued uuid[];  -- their documents: counted before the statement and after it
  begin
    if tg_op = 'DELETE' then
      select array_agg(c.id), array_agg(distinct c.document_id) into kept, continued
        from chunks c where c.document_id in (select document_id from old_chunks);
    elsif tg_op = 'INSERT' then
      -- One index probe per document: does it hold chunks besides this statement's?
      select array_agg(n.document_id) into continued
        from (select document_id, count(*) as chunks from new_chunks group by 1) n
       where (select count(*) from chunks c where c.document_id = n.document_id) > n.chunks;
      if continued is not null then
        select array_agg(c.id) into kept from chunks c
         where c.document_id = any(continued) and not exists (select 1 from new_chunks n where n.id = c.id);
      end if;
    else
      select array_agg(c.id), array_agg(distinct c.document_id) into kept, continued
        from chunks c where c.document_id in (select document_id from new_chunks union select document_id from old_chunks)
         and not exists (select 1 from new_chunks n where n.id = c.id);
    end if;
    continued := coalesce(continued, '{}');

    if tg_op in ('DELETE', 'UPDATE') then
      -- A (document, term) pair leaves the document count unless a kept chunk still holds it.
      with gone as (
        select p.tenant_id, p.dataset_id, p.term, sum(p.chunks) as chunks, count(*) filter (where k.term is null) as documents
          from (select o.tenant_id, o.dataset_id, o.document_id, t.term, count(*) as chunks
                  from old_chunks o cross join lateral unnest(tsvector_to_array(o.search)) as t(term)
                 group by 1, 2, 3, 4) p
          left join (select distinct c.document_id, t.term
                       from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term)
                      where c.id = any(kept)) k on k.document_id = p.document_id and k.term = p.term
         group by 1, 2, 3
      ), updated as (
        update dataset_terms s set chunk_count = s.chunk_count - g.chunks, document_count = s.document_count - g.documents
          from gone g
         where s.tenant_id = g.tenant_id and s.dataset_id = g.dataset_id and s.term = g.term
        returning s.id, s.chunk_count
      )
      select array_agg(id) into emptied from updated where chunk_count <= 0;
      delete from dataset_terms where id = any(emptied);
      update datasets d
         set search_chunk_count = d.search_chunk_count - o.chunks, search_lexeme_count = d.search_lexeme_count - o.lexemes,
             search_document_count = d.search_document_count - o.documents
        from (select dataset_id, count(*) as chunks, sum(length(search)) as lexemes,
                     count(distinct document_id) filter (where document_id <> all(continued)) as documents
                from old_chunks group by 1) o
       where d.id = o.dataset_id;
    end if;
    if tg_op = 'INSERT' and kept is null then
      -- Whole documents only (the common case): each document holding a term counts once.
      -- As below otherwise (term order, bounds).
      insert into dataset_terms (id, tenant_id, dataset_id, term, chunk_count, document_count, max_frequency, min_length)
      select gen_random_uuid(), n.tenant_id, n.dataset_id, t.lexeme, count(*), count(distinct n.document_id),
             max(greatest(coalesce(cardinality(t.positions), 0), 1)), min(length(n.search))
        from new_chunks n cross join lateral unnest(n.search) as t
       group by n.tenant_id, n.dataset_id, t.lexeme
       order by n.dataset_id, t.lexeme collate "C"
      on conflict (tenant_id, dataset_id, term) do update
        set chunk_count = dataset_terms.chunk_count + excluded.chunk_count,
            document_count = dataset_terms.document_count + excluded.document_count,
            max_frequency = greatest(dataset_terms.max_frequency, excluded.max_frequency),
            min_length = least(dataset_terms.min_length, excluded.min_length);
    elsif tg_op in ('INSERT', 'UPDATE') then
      -- In term order, so two transactions upserting into one dataset lock rows in one order.
      -- A term's highest frequency and the fewest lexemes of a chunk holding it only ever rise
      -- and fall here: kept through deletions they stay bounds, loose but never wrong. A
      -- (document, term) pair adds to the document count unless a kept chunk holds it already.
      insert into dataset_terms (id, tenant_id, dataset_id, term, chunk_count, document_count, max_frequency, min_length)
      select gen_random_uuid(), p.tenant_id, p.dataset_id, p.term, sum(p.chunks), count(*) filter (where k.term is null),
             max(p.max_frequency), min(p.min_length)
        from (select n.tenant_id, n.dataset_id, n.document_id, t.lexeme as term, count(*) as chunks,
                     max(greatest(coalesce(cardinality(t.positions), 0), 1)) as max_frequency, min(length(n.search)) as min_length
                from new_chunks n cross join lateral unnest(n.search) as t
               group by 1, 2, 3, 4) p
        left join (select distinct c.document_id, t.term
                     from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term)
                    where c.id = any(kept)) k on k.document_id = p.document_id and k.term = p.term
       group by p.tenant_id, p.dataset_id, p.term
       order by p.dataset_id, p.term collate "C"
      on conflict (tenant_id, dataset_id, term) do update
        set chunk_count = dataset_terms.chunk_count + excluded.chunk_count,
            document_count = dataset_terms.document_count + excluded.document_count,
            max_frequency = greatest(dataset_terms.max_frequency, excluded.max_frequency),
            min_length = least(dataset_terms.min_length, excluded.min_length);
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
      update datasets d
         set search_chunk_count = d.search_chunk_count + n.chunks, search_lexeme_count = d.search_lexeme_count + n.lexemes,
             search_document_count = d.search_document_count + n.documents
        from (select dataset_id, count(*) as chunks, sum(length(search)) as lexemes,
                     count(distinct document_id) filter (where document_id <> all(continued)) as documents
                from new_chunks group by 1) n
       where d.id = n.dataset_id;
    end if;
    return null;
  end $fn$;`;

/**
 * `sluice_bm25_search` of Migration20261202221500_bm25_term_bounds with two changes: a term's idf
 * is ln(1 + (N − n + 0.5) / (n + 0.5)) with N the dataset's documents and n those holding the
 * term (was: chunks), in the scores and in the bounds alike; and `excluded` filters the
 * candidates of every step (the bounds stay bounds: a filter only removes chunks).
 */
export const BM25_SEARCH_WITH_DOCUMENTS = String.raw`create or replace function sluice_bm25_search(dataset_ids uuid[], config regconfig, query text, strict boolean, top_k int, row_budget int, single_pass_limit int, excluded tsquery default null)
returns table (chunk_id uuid, document_id uuid, dataset_id uuid, title text, metadata jsonb, content text, score float8, complete boolean)
language plpgsql stable
-- At most top_k rows (50 at most), with everything the retriever shows, looked up by key
-- here: joined outside, the planner expected 1 000 rows and read the whole dataset's chunks.
rows 50
as $fn$
#variable_conflict use_column
declare
  terms text[];           -- the question's lexemes found in the datasets, rarest first
  bounds float8[];        -- the most each term can add to a chunk's score (see below)
  term_queries tsquery[];
  idfs float8[];          -- per dataset (in dataset_ids order), per term: idf, 0 where absent
  average_lengths float8[];
  frequencies text := '';  -- each term's frequency in candidate c: t1, t2, …
  score_sql text := '0';  -- BM25 (k1 1.2, b 0.75) from them
  -- $10: what every candidate must satisfy besides its words (the question's exclusions).
  candidates constant text := $q$(select id, d, norm %s from (
      select id, search, array_position($1, dataset_id) - 1 as d,
             1.2 * (0.25 + 0.75 * length(search) / $5[array_position($1, dataset_id)]) as norm
        from chunks where dataset_id = any($1) and search @@ $2 and ($10::tsquery is null or search @@ $10) %s limit $8) f) c$q$;
  matching tsquery;       -- what a complete passage matches
  ids uuid[]; scores float8[]; flags boolean[];
  complete_ids uuid[]; complete_scores float8[];
  best_ids uuid[] := '{}'; best_scores float8[] := '{}';
  seen tsquery;           -- the terms whose chunks are scored already
  needed int;
  budget int := row_budget;  -- chunks this search may still score
  examined int;
  remaining float8;
  threshold float8;
  matching_chunks bigint;  -- at most this many chunks hold any of the terms (sum of their counts)
begin
  -- An exclusion of stop words only ("-the") excludes nothing.
  if excluded is not null and numnode(excluded) = 0 then excluded := null; end if;
  -- Statistics rows are read by (dataset, term) pairs given as arrays, so the unique index
  -- (tenant_id, dataset_id, term) finds them: a join on the terms can be planned as a scan of
  -- the dataset's whole vocabulary (it was, on tables autovacuum had not analysed yet).
  terms := array(select distinct unnest(tsvector_to_array(to_tsvector(config, query))));
  -- A term's bound is its BM25 term score at its highest frequency in the shortest chunk that
  -- holds it (both kept by the statistics triggers; never below the truth, so pruning stays
  -- exact), raised by a millionth so rounding can never put it under a score it bounds.
  -- Rarest first (by chunks: the cheapest chunks to score come first).
  select array_agg(s.term order by s.chunks, s.term), array_agg(s.bound order by s.chunks, s.term), sum(s.chunks)
    into terms, bounds, matching_chunks
    from (select x.term,
                 max(ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5))
                     * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
                       / greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1)))) * 1.000001 as bound,
                 sum(x.chunk_count) as chunks
            from dataset_terms x join datasets d on d.id = x.dataset_id
           where x.dataset_id = any(dataset_ids) and x.term = any(terms)
           group by x.term) s;
  if terms is null then return; end if;

  select array_agg(coalesce(ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5)), 0) order by ds.ord, t.ord)
    into idfs
    from unnest(dataset_ids) with ordinality as ds(id, ord)
    cross join unnest(terms) with ordinality as t(term, ord)
    left join datasets d on d.id = ds.id
    left join (select * from dataset_terms where dataset_id = any(dataset_ids) and term = any(terms)) x
           on x.dataset_id = ds.id and x.term = t.term;
  select array_agg(greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1) order by ds.ord)
    into average_lengths
    from unnest(dataset_ids) with ordinality as ds(id, ord) left join datasets d on d.id = ds.id;
  select array_agg(lexeme_query(t) order by ord) into term_queries from unnest(terms) with ordinality as u(t, ord);
  for i in 1 .. cardinality(terms) loop
    frequencies := frequencies || format(', lexeme_frequency(search, $3[%s]) as t%s', i, i);
    score_sql := score_sql || format(' + $4[c.d * %s + %s] * c.t%s * 2.2 / (c.t%s + c.norm)', cardinality(terms), i, i, i);
  end loop;

  if strict then
    matching := websearch_to_tsquery(config, query);
  else
    select string_agg(q::text, ' & ')::tsquery into matching from unnest(term_queries) as q;
  end if;

  -- Few matching chunks (a small dataset, or rare words): score them all in one statement,
  -- complete passages first. Exact, and cheaper than the steps below for so few.
  if not strict and matching_chunks <= single_pass_limit then
    execute format($q$
      with scored as (select c.id, %s as score, c.search @@ $7 as complete from %s)
      select array_agg(id order by complete desc, score desc, id), array_agg(score order by complete desc, score desc, id),
             array_agg(complete order by complete desc, score desc, id)
        from (select * from scored order by complete desc, score desc, id limit $9) t $q$,
      score_sql, format(candidates, frequencies || ', search', ''))
      into ids, scores, flags
      using dataset_ids, (select string_agg(q::text, ' | ')::tsquery from unnest(term_queries) as q), term_queries, idfs,
            average_lengths, seen, matching, matching_chunks, top_k, excluded;
    return query
      select c.id, c.document_id, c.dataset_id, d.title::text, d.metadata, c.content, r.score, r.complete
        from unnest(ids, scores, flags) with ordinality as r(id, score, complete, ord)
        join chunks c on c.id = r.id
        join documents d on d.id = c.document_id
       order by r.ord;
    return;
  end if;

  -- Complete passages first (all the words, or the search syntax as written), by BM25.
  execute format($q$
    with scored as (select c.id, %s as score from %s)
    select (select count(*) from scored)::int,
           (select array_agg(id order by score desc, id) from (select * from scored order by score desc, id limit $9) t),
           (select array_agg(score order by score desc, id) from (select * from scored order by score desc, id limit $9) t) $q$,
    score_sql, format(candidates, frequencies, ''))
    into examined, complete_ids, complete_scores
    using dataset_ids, matching, term_queries, idfs, average_lengths, seen, matching, budget, top_k, excluded;
  budget := budget - examined;
  complete_ids := coalesce(complete_ids, '{}');
  complete_scores := coalesce(complete_scores, '{}');
  needed := top_k - cardinality(complete_ids);

  -- Then passages with some of the words: max-score pruning. Terms are taken rarest first; a
  -- chunk not yet scored holds only terms not yet taken, so once their bounds add up to less
  -- than the score the top list needs, no such chunk can enter it and the rest is skipped.
  if not strict and needed > 0 and cardinality(terms) > 1 then
    for i in 1 .. cardinality(terms) loop
      select coalesce(sum(x), 0) into remaining from unnest(bounds[i:]) as x;
      threshold := case when cardinality(best_scores) >= needed then best_scores[needed] else 0 end;
      exit when remaining < threshold or budget <= 0;
      execute format($q$
        with scored as (select c.id, %s as score from %s)
        select (select count(*) from scored)::int,
               (select array_agg(id order by score desc, id) from (select * from scored order by score desc, id limit $9) t),
               (select array_agg(score order by score desc, id) from (select * from scored order by score desc, id limit $9) t) $q$,
        score_sql, format(candidates, frequencies, 'and not (search @@ $7) and ($6::tsquery is null or not (search @@ $6))'))
        into examined, ids, scores
        using dataset_ids, term_queries[i], term_queries, idfs, average_lengths, seen, matching, budget, needed, excluded;
      budget := budget - examined;
      if ids is not null then
        select array_agg(m.id order by m.score desc, m.id), array_agg(m.score order by m.score desc, m.id)
          into best_ids, best_scores
          from (select * from unnest(best_ids || ids, best_scores || scores) as u(id, score)
                 order by score desc, id limit needed) m;
      end if;
      seen := case when seen is null then term_queries[i] else seen || term_queries[i] end;
    end loop;
  end if;

  return query
    select c.id, c.document_id, c.dataset_id, d.title::text, d.metadata, c.content, r.score, r.complete
      from unnest(complete_ids || best_ids, complete_scores || best_scores,
                  array_fill(true, array[cardinality(complete_ids)]) || array_fill(false, array[cardinality(best_ids)]))
           with ordinality as r(id, score, complete, ord)
      join chunks c on c.id = r.id
      join documents d on d.id = c.document_id
     order by r.ord;
end $fn$;`;

export class Migration20261203003315_bm25_document_idf extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "datasets" add column "search_document_count" bigint not null default 0;`);
    this.addSql(`alter table "dataset_terms" add column "document_count" int;`);
    // What exists already (the migrating role owns the tables; FORCEd RLS is lifted for it here).
    this.addSql(`alter table dataset_terms no force row level security;`);
    this.addSql(`alter table datasets no force row level security;`);
    this.addSql(`alter table chunks no force row level security;`);
    this.addSql(`update dataset_terms s set document_count = b.documents
      from (select c.tenant_id, c.dataset_id, t.term, count(distinct c.document_id) as documents
              from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term)
             group by 1, 2, 3) b
     where s.tenant_id = b.tenant_id and s.dataset_id = b.dataset_id and s.term = b.term;`);
    this.addSql(`update datasets d set search_document_count = b.documents
      from (select dataset_id, count(distinct document_id) as documents from chunks group by 1) b
     where d.id = b.dataset_id;`);
    this.addSql(`alter table dataset_terms force row level security;`);
    this.addSql(`alter table datasets force row level security;`);
    this.addSql(`alter table chunks force row level security;`);
    this.addSql(`alter table "dataset_terms" alter column "document_count" set not null;`);
    this.addSql(STATISTICS_TRIGGER_WITH_DOCUMENTS);
    // A new signature (an eighth argument): the seven-argument function would make calls ambiguous.
    this.addSql(`drop function sluice_bm25_search(uuid[], regconfig, text, boolean, int, int, int);`);
    this.addSql(BM25_SEARCH_WITH_DOCUMENTS);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function sluice_bm25_search(uuid[], regconfig, text, boolean, int, int, int, tsquery);`);
    this.addSql(BM25_SEARCH_WITH_BOUNDS);
    this.addSql(STATISTICS_TRIGGER_WITH_BOUNDS);
    this.addSql(`alter table "dataset_terms" drop column "document_count";`);
    this.addSql(`alter table "datasets" drop column "search_document_count";`);
  }

}
