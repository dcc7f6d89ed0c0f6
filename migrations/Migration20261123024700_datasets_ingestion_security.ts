import { Migration } from '@mikro-orm/migrations';
import { appTableGrantSql, definerFunctionSql, tenantTableSql } from '../src/db/rls.js';

/**
 * Hand-written: row-level security for datasets and ingestion, the worker heartbeat table
 * (process-wide, not tenant-owned), and the two privileged steps ingestion needs.
 */
export class Migration20261123024700_datasets_ingestion_security extends Migration {
  override async up(): Promise<void> {
    const sql = [
      ...tenantTableSql('datasets'),
      ...tenantTableSql('documents'),
      ...tenantTableSql('chunks'),
      ...tenantTableSql('ingestion_jobs'),
      ...tenantTableSql('ingestion_items'),
      ...appTableGrantSql('worker_instances'),
      `alter table datasets add constraint datasets_slug_check check (slug ~ '^[a-z0-9-]{3,64}$');`,
      // The job queue's tables belong to the owner (graphile-worker guards them with RLS of its
      // own); the app role enqueues through this, inside its transaction, and only a job of
      // its current tenant. plpgsql: graphile_worker's schema is migrated after this one.
      ...definerFunctionSql(
        `enqueue_ingestion(p_job_id uuid) returns void`,
        `language plpgsql volatile security definer as $$
         declare
           v_tenant uuid;
           v_dataset uuid;
         begin
           select tenant_id, dataset_id into v_tenant, v_dataset
             from ingestion_jobs where id = p_job_id and tenant_id = app_current_tenant();
           if v_tenant is null then
             raise exception 'ingestion job % is not in the current tenant', p_job_id using errcode = 'P0002';
           end if;
           perform graphile_worker.add_job('ingest', json_build_object('tenantId', v_tenant, 'jobId', p_job_id),
             queue_name := 'dataset:' || v_dataset, max_attempts := 5,
             job_key := 'ingest:' || p_job_id, job_key_mode := 'replace');
         end $$;`,
      ),
      // Merging a GIN index's pending list needs the index's owner; no tenant data is read.
      ...definerFunctionSql(
        `ingest_merge_search_index() returns bigint`,
        `language sql volatile security definer as $$ select gin_clean_pending_list('chunks_search_index'::regclass) $$;`,
      ),
    ];
    for (const statement of sql) this.addSql(statement);
  }
}
