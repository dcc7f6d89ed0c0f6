import { Migration } from '@mikro-orm/migrations';

/**
 * Cheaper upkeep of BM25's statistics (Migration20261202144657_bm25_statistics), same results.
 * Each input's chunks upsert one `dataset_terms` row per distinct term they hold (about 12 000
 * for 500 KB of text), most of them rows that exist already, so ingestion spends its time
 * updating the same rows again and again (issue 19: ingestion fell from 53 % to 27 % of COPY).
 *
 * - Terms compare bytewise (`collate "C"`): the unique index is probed once per upserted term
 *   and the batch is sorted by term, and under the database's locale (C.UTF-8 here, any
 *   locale elsewhere) every comparison was a strcoll() call. Lexemes are only ever compared
 *   for equality, which no deterministic collation changes.
 * - Room on each page (fillfactor 45): an update whose new version fits on the row's own page
 *   is a HOT update, with no new entry in either index, and the next update on that page
 *   prunes the dead versions without waiting for vacuum. With every page full, each update
 *   added an entry to both indexes and the dead versions piled up between vacuums, so each
 *   probe walked more of them. 45 rather than 50: a page filled to half by inserts is a few
 *   rows short of room for a new version of every row on it (line pointers), and one batch
 *   can update every term of a small dataset. (HOT holds while no index covers `chunk_count`.)
 */
export class Migration20261202215000_bm25_statistics_upkeep extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "dataset_terms" alter column "term" type text collate "C";`);
    this.addSql(`alter table "dataset_terms" set (fillfactor = 45);`);
    this.addSql(statisticsTrigger('t.term collate "C"'));
  }

  override async down(): Promise<void> {
    this.addSql(statisticsTrigger('t.term'));
    this.addSql(`alter table "dataset_terms" reset (fillfactor);`);
    this.addSql(`alter table "dataset_terms" alter column "term" type text collate "default";`);
  }
}

/** The trigger function of Migration20261202144657_bm25_statistics, new terms ordered by `termOrder`. */
function statisticsTrigger(termOrder: string): string {
  return `create or replace function chunks_search_statistics() returns trigger
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
       order by n.dataset_id, ${termOrder}
      on conflict (tenant_id, dataset_id, term) do update set chunk_count = dataset_terms.chunk_count + excluded.chunk_count;
      update datasets d
         set search_chunk_count = d.search_chunk_count + n.chunks, search_lexeme_count = d.search_lexeme_count + n.lexemes
        from (select dataset_id, count(*) as chunks, sum(length(search)) as lexemes from new_chunks group by 1) n
       where d.id = n.dataset_id;
    end if;
    return null;
  end $fn$;`;
}
