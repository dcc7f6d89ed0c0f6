import { Migration } from '@mikro-orm/migrations';
import { tenantTableSql } from '../src/db/rls.js';

/**
 * BM25's statistics, exact in every dataset: generated (the table, the two counters), then
 * hand-written below: triggers on `chunks` that keep them in the statement that adds, replaces
 * or deletes chunks (cascades from documents, datasets and tenants included), a backfill of
 * what exists, and row-level security. Statement-level triggers with transition tables: one
 * grouped upsert per batch of chunks, not one per row. A trigger with transition tables can
 * have one event only, hence three triggers on one function.
 *
 * Document length is the chunk's count of distinct lexemes (`length(search)`, read from the
 * tsvector's header), the same measure the counters sum.
 */
export const STATISTICS_TRIGGER = `create or replace function chunks_search_statistics() returns trigger
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
      insert into dataset_terms (id, tenant_id, dataset_id, term, chunk_count)
      select gen_random_uuid(), n.tenant_id, n.dataset_id, t.term, count(*)
        from new_chunks n cross join lateral unnest(tsvector_to_array(n.search)) as t(term)
       group by n.tenant_id, n.dataset_id, t.term
       order by n.dataset_id, t.term
      on conflict (tenant_id, dataset_id, term) do update set chunk_count = dataset_terms.chunk_count + excluded.chunk_count;
      update datasets d
         set search_chunk_count = d.search_chunk_count + n.chunks, search_lexeme_count = d.search_lexeme_count + n.lexemes
        from (select dataset_id, count(*) as chunks, sum(length(search)) as lexemes from new_chunks group by 1) n
       where d.id = n.dataset_id;
    end if;
    return null;
  end $fn$;`;

/** A tsquery matching one lexeme exactly as stored (quoted, never re-parsed or stemmed). */
const LEXEME_QUERY = String.raw`create or replace function lexeme_query(lexeme text) returns tsquery
language sql immutable strict parallel safe
as $fn$ select ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery $fn$;`;

/** A term's frequency in a tsvector, read in C (see the comment inside). */
const LEXEME_FREQUENCY = String.raw`create or replace function lexeme_frequency(search tsvector, lexeme tsquery) returns int
language sql immutable strict parallel safe
as $fn$
  -- How many times lexeme (a one-lexeme tsquery) occurs in search, read in C. ts_rank with
  -- every weight 1 and no normalisation is (sum of 1/j^2 for j = 1..tf) / (pi^2/6) (tsrank.c,
  -- calc_rank_or); pi^2/6 minus that sum is trigamma(tf + 1), and 1/trigamma(n + 1) - 1/2 lies
  -- within 0.11 of n for every n >= 0, so rounding gives tf back exactly (test/endpoints/
  -- bm25.test.ts checks 0 to 255, the most positions a tsvector keeps per lexeme). Unnesting
  -- the tsvector to count positions costs about ten times as much per chunk.
  select round(1 / (1.6449340668482264 * (1 - ts_rank('{1,1,1,1}', search, lexeme, 0))) - 0.5)::int
$fn$;`;

/**
 * The keyword search (src/domains/endpoints/retriever.ts): BM25 (k1 1.2, b 0.75) over the
 * chunks of the given datasets, complete passages first. Invoker's rights: row-level security
 * and the app role's grants apply to every statement inside. In PL/pgSQL so the max-score
 * rounds cost one round trip; EXECUTE plans each statement with its tsquery as a constant,
 * which the GIN index needs. `row_budget` bounds the chunks one search scores in all: the one
 * place exactness is traded for speed (measured in docs/endpoints.md).
 */
export const BM25_SEARCH = String.raw`create or replace function sluice_bm25_search(dataset_ids uuid[], config regconfig, query text, strict boolean, top_k int, row_budget int, single_pass_limit int)
returns table (chunk_id uuid, document_id uuid, dataset_id uuid, title text, metadata jsonb, content text, score float8, complete boolean)
language plpgsql stable
-- At most top_k rows (50 at most), with everything the retriever shows, looked up by key
-- here: joined outside, the planner expected 1 000 rows and read the whole dataset's chunks.
rows 50
as $fn$
#variable_conflict use_column
declare
  terms text[];           -- the question's lexemes found in the datasets, rarest first
  bounds float8[];        -- the most each term can add to a chunk's score: idf * (k1 + 1)
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
  select array_agg(s.term order by s.bound desc, s.term), array_agg(s.bound order by s.bound desc, s.term), sum(s.chunks)
    into terms, bounds, matching_chunks
    from (select x.term, max(ln(1 + (d.search_chunk_count - x.chunk_count + 0.5) / (x.chunk_count + 0.5))) * 2.2 as bound,
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

export class Migration20261202144657_bm25_statistics extends Migration {

  override async up(): Promise<void> {
    this.addSql(LEXEME_QUERY);
    this.addSql(LEXEME_FREQUENCY);
    this.addSql(BM25_SEARCH);
    this.addSql(`create table "dataset_terms" ("id" uuid not null, "tenant_id" uuid not null, "dataset_id" uuid not null, "term" text not null, "chunk_count" int not null, constraint "dataset_terms_pkey" primary key ("id"));`);
    this.addSql(`alter table "dataset_terms" add constraint "dataset_terms_tenant_id_dataset_id_term_unique" unique ("tenant_id", "dataset_id", "term");`);

    this.addSql(`alter table "dataset_terms" add constraint "dataset_terms_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "dataset_terms" add constraint "dataset_terms_dataset_id_foreign" foreign key ("dataset_id") references "datasets" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "datasets" add column "search_chunk_count" bigint not null default 0, add column "search_lexeme_count" bigint not null default 0;`);

    for (const statement of tenantTableSql('dataset_terms')) this.addSql(statement);
    this.addSql(STATISTICS_TRIGGER);
    this.addSql(`create trigger chunks_search_statistics_insert after insert on chunks
      referencing new table as new_chunks for each statement execute function chunks_search_statistics();`);
    this.addSql(`create trigger chunks_search_statistics_delete after delete on chunks
      referencing old table as old_chunks for each statement execute function chunks_search_statistics();`);
    this.addSql(`create trigger chunks_search_statistics_update after update on chunks
      referencing old table as old_chunks new table as new_chunks for each statement execute function chunks_search_statistics();`);
    // What exists already (the migrating role owns the tables; FORCEd RLS is lifted for it here).
    this.addSql(`alter table dataset_terms no force row level security;`);
    this.addSql(`alter table datasets no force row level security;`);
    this.addSql(`alter table chunks no force row level security;`);
    this.addSql(`insert into dataset_terms (id, tenant_id, dataset_id, term, chunk_count)
      select gen_random_uuid(), c.tenant_id, c.dataset_id, t.term, count(*)
        from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term)
       group by 2, 3, 4;`);
    this.addSql(`update datasets d set search_chunk_count = c.chunks, search_lexeme_count = c.lexemes
      from (select dataset_id, count(*) as chunks, sum(length(search)) as lexemes from chunks group by 1) c
     where d.id = c.dataset_id;`);
    this.addSql(`alter table dataset_terms force row level security;`);
    this.addSql(`alter table datasets force row level security;`);
    this.addSql(`alter table chunks force row level security;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists chunks_search_statistics_insert on chunks;`);
    this.addSql(`drop trigger if exists chunks_search_statistics_delete on chunks;`);
    this.addSql(`drop trigger if exists chunks_search_statistics_update on chunks;`);
    this.addSql(`drop function if exists chunks_search_statistics();`);
    this.addSql(`drop function if exists sluice_bm25_search(uuid[], regconfig, text, boolean, int, int, int);`);
    this.addSql(`drop function if exists lexeme_query(text);`);
    this.addSql(`drop function if exists lexeme_frequency(tsvector, tsquery);`);
    this.addSql(`drop table if exists "dataset_terms" cascade;`);

    this.addSql(`alter table "datasets" drop column "search_chunk_count", drop column "search_lexeme_count";`);
  }

}
