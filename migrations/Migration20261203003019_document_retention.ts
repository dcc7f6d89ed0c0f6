import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Deleting documents (issue 21 and 22: one document from the console or the CLI, a watched
 * folder's removed files, and document retention).
 *
 * - `document_retention_hours` on tenants (the default) and datasets (their own): how long a
 *   document is kept after it was last ingested; null keeps it until deleted.
 * - `delete_documents(ids)`: one statement that removes documents, their chunks and embeddings
 *   (foreign keys cascade, and the chunks' statistics triggers keep BM25's statistics exact)
 *   and takes them off their datasets' counters; it returns what it removed. SECURITY INVOKER:
 *   a request runs it as the app role under row-level security (another tenant's ids remove
 *   nothing), retention as the owner.
 * - (dataset_id, updated_at) replaces the index on dataset_id: retention finds a dataset's
 *   expired documents without reading the others.
 */
const SIGNATURE = 'delete_documents(p_ids uuid[])';

/** The function's statement (Migration20261204193000_document_delete_lock_order puts a lock before it). */
export const DELETE_DOCUMENTS = `with gone as (
          delete from documents d where d.id = any(p_ids)
          returning d.id, d.tenant_id, d.dataset_id, d.source_key, d.title, d.chunk_count, d.byte_count
        ), counted as (
          update datasets s
             set document_count = s.document_count - g.documents, chunk_count = s.chunk_count - g.chunks,
                 byte_count = s.byte_count - g.bytes, updated_at = now()
            from (select gone.dataset_id, count(*) as documents, sum(gone.chunk_count) as chunks, sum(gone.byte_count) as bytes
                    from gone group by gone.dataset_id) g
           where s.id = g.dataset_id
        )
        select gone.id, gone.tenant_id, gone.dataset_id, gone.source_key, gone.title, gone.chunk_count, gone.byte_count from gone`;

export class Migration20261203003019_document_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "tenants" add column "document_retention_hours" int null;`);
    this.addSql(`alter table "datasets" add column "document_retention_hours" int null;`);
    this.addSql(`drop index "documents_dataset_id_index";`);
    this.addSql(`create index "documents_dataset_id_updated_at_index" on "documents" ("dataset_id", "updated_at");`);
    const [create, ...grants] = definerFunctionSql(
      `${SIGNATURE} returns table (id uuid, tenant_id uuid, dataset_id uuid, source_key text, title text, chunk_count int, byte_count int)`,
      `language sql volatile security invoker as $$
        ${DELETE_DOCUMENTS}
      $$`,
    );
    this.addSql(create!);
    for (const statement of grants) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists ${SIGNATURE};`);
    this.addSql(`drop index "documents_dataset_id_updated_at_index";`);
    this.addSql(`create index "documents_dataset_id_index" on "documents" ("dataset_id");`);
    this.addSql(`alter table "datasets" drop column "document_retention_hours";`);
    this.addSql(`alter table "tenants" drop column "document_retention_hours";`);
  }
}
