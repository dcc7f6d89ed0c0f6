import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Hand-written: the app role removes the queue entries of jobs it ends without the worker
 * (cancelled, or deleted with their dataset), as it adds them (`enqueue_ingestion`): through
 * the owner, and only for jobs of its current tenant. Until now a cancelled job kept its entry
 * (a parked one for good), so a loop of "ingest, cancel" grew the queue past
 * SLUICE_INGEST_MAX_QUEUED_JOBS, which counts jobs not ended. Resolves to how many entries it
 * removed or stopped: an entry being run is not removed (graphile-worker's `remove_job` clears
 * its key and spends its attempts, so it is not retried, and returns it), and is counted too.
 * (Comment corrected 2026-12-07; the SQL is as first applied.)
 */
export class Migration20261207180000_ingestion_dequeue extends Migration {
  override async up(): Promise<void> {
    const sql = definerFunctionSql(
      `dequeue_ingestion(p_job_ids uuid[]) returns integer`,
      `language plpgsql volatile security definer as $$
       declare
         v_job uuid;
         v_removed integer := 0;
       begin
         for v_job in select id from ingestion_jobs where id = any(p_job_ids) and tenant_id = app_current_tenant() order by id loop
           if (graphile_worker.remove_job('ingest:' || v_job)).id is not null then
             v_removed := v_removed + 1;
           end if;
         end loop;
         return v_removed;
       end $$;`,
    );
    for (const statement of sql) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists dequeue_ingestion(uuid[]);`);
  }
}
