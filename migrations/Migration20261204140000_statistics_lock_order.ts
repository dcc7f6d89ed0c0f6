import { Migration } from '@mikro-orm/migrations';
import { statisticsTriggerNarrowed } from './Migration20261203061539_bm25_statistics_narrow_aggregation.js';

/**
 * The BM25 statistics trigger locks its datasets' rows before it touches a term (issue 19:
 * ingestion cost). Hand-written (a trigger function); otherwise the function of
 * Migration20261203061539_bm25_statistics_narrow_aggregation, unchanged.
 *
 * Two groups of one job are now written at once, each in its own transaction (item-groups.ts):
 * one inserts its chunks (the tsvectors, the search index: most of an INSERT's time) while the
 * other runs its statistics. A statement's upsert locks its terms in term order, but a
 * transaction may run several (a replaced document's DELETE, then INSERTs in batches), and two
 * such transactions could each hold a term the other's next statement needs. Taking the
 * dataset's row first, in every statement that changes chunks, puts one lock ahead of all the
 * terms: the statistics of one dataset are written by one transaction at a time, in the order
 * they reach this point, while the rows and index entries before it are written side by side.
 * The row was locked by the statement's own `update datasets` already, after the terms; the
 * writer no longer locks it when a group begins (writer.ts), which kept groups from overlapping.
 */
const LOCK_FIRST = `  begin
    -- Before any term: the datasets' rows, in id order (see Migration20261204140000_statistics_lock_order).
    if tg_op = 'INSERT' then
      perform 1 from datasets d where d.id in (select dataset_id from new_chunks) order by d.id for no key update;
    else
      perform 1 from datasets d where d.id in (select dataset_id from old_chunks) order by d.id for no key update;
    end if;
    if tg_op = 'DELETE' then`;

export function statisticsTriggerLockingDatasetsFirst(): string {
  const trigger = statisticsTriggerNarrowed();
  const anchor = "  begin\n    if tg_op = 'DELETE' then";
  if (trigger.split(anchor).length !== 2) throw new Error('the statistics trigger changed: rewrite this migration against it');
  return trigger.replace(anchor, LOCK_FIRST);
}

export class Migration20261204140000_statistics_lock_order extends Migration {
  override async up(): Promise<void> {
    this.addSql(statisticsTriggerLockingDatasetsFirst());
  }

  override async down(): Promise<void> {
    this.addSql(statisticsTriggerNarrowed());
  }
}
