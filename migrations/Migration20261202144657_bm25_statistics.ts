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
const STATISTICS_TRIGGER = `create or replace function chunks_search_statistics() returns trigger
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

/**
 * The keyword search (src/domains/endpoints/retriever.ts): BM25 (k1 1.2, b 0.75) over the
 * chunks of the given datasets, complete passages first. Invoker's rights: row-level security
 * and the app role's grants apply to every statement inside. In PL/pgSQL so the max-score
 * rounds cost one round trip; EXECUTE plans each statement with its tsquery as a constant,
 * which the GIN index needs. `row_cap` bounds the chunks any one statement scores: the one
 * place exactness is traded for speed (measured in docs/endpoints.md).
 */
const BM25_SEARCH = String.raw`create or replace function sluice_bm25_search(dataset_ids uuid[], config regconfig, query text, strict boolean, top_k int, row_cap int)
returns table (chunk_id uuid, score float8, complete boolean)
language plpgsql stable
as $fn$
#variable_conflict use_column
declare
  k1 constant float8 := 1.2;  -- as in score_sql: k1 + 1 = 2.2, 1 - b = 0.25, b = 0.75
  terms text[];           -- the question's lexemes, highest bound (rarest) first
  bounds float8[];        -- the most each term can add to a chunk's score
  w_dataset uuid[]; w_term text[]; w_idf float8[]; w_avgdl float8[];
  matching tsquery;       -- what a complete passage matches
  ids uuid[]; scores float8[];
  best_ids uuid[] := '{}'; best_scores float8[] := '{}';
  seen tsquery;           -- the terms whose chunks are scored already
  term_query tsquery;
  needed int;
  remaining float8;
  threshold float8;
  -- BM25 of chunk c over the question's terms (tf from the tsvector's positions). Both
  -- statements below bind the same parameters: $4..$7 the weights, $5 the terms.
  score_sql constant text := $s$(select coalesce(sum(w.idf * x.tf * 2.2 / (x.tf + 1.2 * (0.25 + 0.75 * length(c.search) / w.avgdl))), 0)
      from (select lexeme, array_length(positions, 1) as tf from unnest(c.search) where lexeme = any($5)) x
      join weights w on w.term = x.lexeme and w.dataset_id = c.dataset_id)$s$;
begin
  -- The question's lexemes, as the dataset's configuration indexes them.
  select coalesce(array_agg(t.term), '{}') into terms
    from (select distinct unnest(tsvector_to_array(to_tsvector(config, query))) as term) t;
  if cardinality(terms) = 0 then return; end if;

  -- Per dataset: idf of each term (Lucene's, never negative) and the average chunk length.
  select array_agg(s.dataset_id), array_agg(s.term), array_agg(s.idf), array_agg(s.avgdl)
    into w_dataset, w_term, w_idf, w_avgdl
    from (select d.id as dataset_id, x.term,
                 ln(1 + (d.search_chunk_count - x.chunk_count + 0.5) / (x.chunk_count + 0.5)) as idf,
                 greatest(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1) as avgdl
            from datasets d
            join dataset_terms x on x.dataset_id = d.id and x.term = any(terms)
           where d.id = any(dataset_ids)) s;
  if w_term is null then return; end if;

  select array_agg(u.term order by u.bound desc, u.term), array_agg(u.bound order by u.bound desc, u.term)
    into terms, bounds
    from (select w.term, max(w.idf) * (k1 + 1) as bound
            from unnest(w_term, w_idf) as w(term, idf) group by w.term) u;

  if strict then
    matching := websearch_to_tsquery(config, query);
  else
    select string_agg(lexeme_query(t)::text, ' & ')::tsquery into matching from unnest(terms) as t;
  end if;

  -- Complete passages first (all the words, or the search syntax as written), by BM25.
  return query execute format($q$
    with weights as (select * from unnest($4, $5, $6, $7) as w(dataset_id, term, idf, avgdl))
    select c.id, %s as score, true
      from (select id, dataset_id, search from chunks
             where dataset_id = any($1) and search @@ $2 limit $9) c
     order by score desc, c.id limit $10 $q$, score_sql)
    using dataset_ids, matching, matching, w_dataset, w_term, w_idf, w_avgdl, seen, row_cap, top_k;
  get diagnostics needed = row_count;
  needed := top_k - needed;
  if strict or needed <= 0 or cardinality(terms) = 1 then return; end if;

  -- Then passages with some of the words: max-score pruning. Terms are taken rarest first;
  -- a chunk not yet scored holds only terms not yet taken, so once their bounds add up to
  -- less than the score the top list needs, no such chunk can enter it and the rest is skipped.
  for i in 1 .. cardinality(terms) loop
    select coalesce(sum(x), 0) into remaining from unnest(bounds[i:]) as x;
    threshold := case when cardinality(best_scores) >= needed then best_scores[needed] else 0 end;
    exit when remaining < threshold;
    term_query := lexeme_query(terms[i]);
    execute format($q$
      with weights as (select * from unnest($4, $5, $6, $7) as w(dataset_id, term, idf, avgdl)),
      scored as (
        select c.id, %s as score
          from (select id, dataset_id, search from chunks
                 where dataset_id = any($1) and search @@ $2
                   and not (search @@ $3) and ($8::tsquery is null or not (search @@ $8))
                 limit $9) c
         order by score desc, c.id limit $10)
      select array_agg(id order by score desc, id), array_agg(score order by score desc, id) from scored $q$, score_sql)
      into ids, scores
      using dataset_ids, term_query, matching, w_dataset, w_term, w_idf, w_avgdl, seen, row_cap, needed;
    if ids is not null then
      select array_agg(m.id order by m.score desc, m.id), array_agg(m.score order by m.score desc, m.id)
        into best_ids, best_scores
        from (select * from unnest(best_ids || ids, best_scores || scores) as u(id, score)
               order by score desc, id limit needed) m;
    end if;
    seen := case when seen is null then term_query else seen || term_query end;
  end loop;
  return query select u.id, u.score, false from unnest(best_ids, best_scores) as u(id, score);
end $fn$;`;

export class Migration20261202144657_bm25_statistics extends Migration {

  override async up(): Promise<void> {
    this.addSql(LEXEME_QUERY);
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
    this.addSql(`drop function if exists sluice_bm25_search(uuid[], regconfig, text, boolean, int, int);`);
    this.addSql(`drop function if exists lexeme_query(text);`);
    this.addSql(`drop table if exists "dataset_terms" cascade;`);

    this.addSql(`alter table "datasets" drop column "search_chunk_count", drop column "search_lexeme_count";`);
  }

}
