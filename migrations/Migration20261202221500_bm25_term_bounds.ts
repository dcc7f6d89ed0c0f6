import { Migration } from '@mikro-orm/migrations';
import { BM25_SEARCH, STATISTICS_TRIGGER } from './Migration20261202144657_bm25_statistics.js';

/**
 * Tighter max-score bounds for keyword search: each term's highest frequency in a chunk and the
 * fewest lexemes of a chunk that holds it, kept in `dataset_terms` by the statistics trigger
 * (two more aggregates in the grouped upsert it already runs; the trigger is otherwise that of
 * Migration20261202215000_bm25_statistics_upkeep). A term's bound was idf · (k1 + 1),
 * what it adds to a chunk as its frequency grows without limit; with these two it is what the
 * term adds at its highest frequency in its shortest chunk, about half as much for words that
 * occur once per chunk, so `sluice_bm25_search` stops scanning common words far sooner
 * (docs/endpoints.md, "How it stays fast"). Only insertions move them: a deletion leaves them
 * looser, never wrong. Hand-written (functions and the backfill of existing rows).
 */
export const STATISTICS_TRIGGER_WITH_BOUNDS = `create or replace function chunks_search_statistics() returns trigger
  language plpgsql as $fn$
  declare
    emptied uuid[];
  begin
    if tg_op in ('DELETE', 'UPDATE') then
      with gone as (
        select o.tenant_id, o.dataset_id, t.term, count(*) as chunks
          from old_chunks o cross join lateral unnest(tsvector_to_array(o.search)) as t(term)
         group by 1, 2, 3
      ), updated as (
        update dataset_terms s set chunk_count = s.chunk_count - g.chunks
          from gone g
         where s.tenant_id = g.tenant_id and s.dataset_id = g.dataset_id and s.term = g.term
        returning s.id, s.chunk_count
      )
      select array_agg(id) into emptied from updated where chunk_count <= 0;
      delete from dataset_terms where id = any(emptied);
      update datasets d
         set search_chunk_count = d.search_chunk_count - o.chunks, search_lexeme_count = d.search_lexeme_count - o.lexemes
        from (select dataset_id, count(*) as chunks, sum(length(search)) as lexemes from old_chunks group by 1) o
       where d.id = o.dataset_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
      -- In term order, so two transactions upserting into one dataset lock rows in one order.
      -- A term's highest frequency and the fewest lexemes of a chunk holding it only ever rise
      -- and fall here: kept through deletions they stay bounds, loose but never wrong.
      insert into dataset_terms (id, tenant_id, dataset_id, term, chunk_count, max_frequency, min_length)
      select gen_random_uuid(), n.tenant_id, n.dataset_id, t.lexeme, count(*), max(greatest(coalesce(cardinality(t.positions), 0), 1)), min(length(n.search))
        from new_chunks n cross join lateral unnest(n.search) as t
       group by n.tenant_id, n.dataset_id, t.lexeme
       order by n.dataset_id, t.lexeme collate "C"
      on conflict (tenant_id, dataset_id, term) do update
        set chunk_count = dataset_terms.chunk_count + excluded.chunk_count,
            max_frequency = greatest(dataset_terms.max_frequency, excluded.max_frequency),
            min_length = least(dataset_terms.min_length, excluded.min_length);
      update datasets d
         set search_chunk_count = d.search_chunk_count + n.chunks, search_lexeme_count = d.search_lexeme_count + n.lexemes
        from (select dataset_id, count(*) as chunks, sum(length(search)) as lexemes from new_chunks group by 1) n
       where d.id = n.dataset_id;
    end if;
    return null;
  end $fn$;`;

export const BM25_SEARCH_WITH_BOUNDS = String.raw`create or replace function sluice_bm25_search(dataset_ids uuid[], config regconfig, query text, strict boolean, top_k int, row_budget int, single_pass_limit int)
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
  candidates constant text := $q$(select id, d, norm %s from (
      select id, search, array_position($1, dataset_id) - 1 as d,
             1.2 * (0.25 + 0.75 * length(search) / $5[array_position($1, dataset_id)]) as norm
        from chunks where dataset_id = any($1) and search @@ $2 %s limit $8) f) c$q$;
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
  -- Statistics rows are read by (dataset, term) pairs given as arrays, so the unique index
  -- (tenant_id, dataset_id, term) finds them: a join on the terms can be planned as a scan of
  -- the dataset's whole vocabulary (it was, on tables autovacuum had not analysed yet).
  terms := array(select distinct unnest(tsvector_to_array(to_tsvector(config, query))));
  -- A term's bound is its BM25 term score at its highest frequency in the shortest chunk that
  -- holds it (both kept by the statistics triggers; never below the truth, so pruning stays
  -- exact), raised by a millionth so rounding can never put it under a score it bounds.
  -- Rarest first, as before: the cheapest chunks to score come first (a term with a higher
  -- bound but more chunks, taken first, once cost 4 000 chunks where rarity order cost 1 300).
  select array_agg(s.term order by s.chunks, s.term), array_agg(s.bound order by s.chunks, s.term), sum(s.chunks)
    into terms, bounds, matching_chunks
    from (select x.term,
                 max(ln(1 + (d.search_chunk_count - x.chunk_count + 0.5) / (x.chunk_count + 0.5))
                     * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
                       / greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1)))) * 1.000001 as bound,
                 sum(x.chunk_count) as chunks
            from dataset_terms x join datasets d on d.id = x.dataset_id
           where x.dataset_id = any(dataset_ids) and x.term = any(terms)
           group by x.term) s;
  if terms is null then return; end if;

  select array_agg(coalesce(ln(1 + (d.search_chunk_count - x.chunk_count + 0.5) / (x.chunk_count + 0.5)), 0) order by ds.ord, t.ord)
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
            average_lengths, seen, matching, matching_chunks, top_k;
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
    using dataset_ids, matching, term_queries, idfs, average_lengths, seen, matching, budget, top_k;
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
        using dataset_ids, term_queries[i], term_queries, idfs, average_lengths, seen, matching, budget, needed;
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

export class Migration20261202221500_bm25_term_bounds extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "dataset_terms" add column "max_frequency" int, add column "min_length" int;`);
    // What exists already (the migrating role owns the tables; FORCEd RLS is lifted for it here).
    this.addSql(`alter table dataset_terms no force row level security;`);
    this.addSql(`alter table chunks no force row level security;`);
    this.addSql(`update dataset_terms s set max_frequency = b.max_frequency, min_length = b.min_length
      from (select c.tenant_id, c.dataset_id, t.lexeme, max(greatest(coalesce(cardinality(t.positions), 0), 1)) as max_frequency, min(length(c.search)) as min_length
              from chunks c cross join lateral unnest(c.search) as t
             group by 1, 2, 3) b
     where s.tenant_id = b.tenant_id and s.dataset_id = b.dataset_id and s.term = b.lexeme;`);
    this.addSql(`alter table dataset_terms force row level security;`);
    this.addSql(`alter table chunks force row level security;`);
    this.addSql(`alter table "dataset_terms" alter column "max_frequency" set not null, alter column "min_length" set not null;`);
    this.addSql(STATISTICS_TRIGGER_WITH_BOUNDS);
    this.addSql(BM25_SEARCH_WITH_BOUNDS);
  }

  override async down(): Promise<void> {
    // The trigger as Migration20261202215000_bm25_statistics_upkeep left it (terms in bytewise order).
    this.addSql(STATISTICS_TRIGGER.replace('order by n.dataset_id, t.term', 'order by n.dataset_id, t.term collate "C"'));
    this.addSql(BM25_SEARCH);
    this.addSql(`alter table "dataset_terms" drop column "max_frequency", drop column "min_length";`);
  }

}
