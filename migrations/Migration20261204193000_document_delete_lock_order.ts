import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';
import { DELETE_DOCUMENTS } from './Migration20261203003019_document_retention.js';

/**
 * `delete_documents` takes the running ingestion jobs of its documents' datasets first, so it
 * can no longer deadlock with a group of inputs being written (issue 19, the lock order of
 * deletes; DatasetService.delete does the same for a whole dataset).
 *
 * A group holds its job's row (KEY SHARE), then documents' rows one input after another, and
 * the dataset's row as soon as one of its statements changes chunks (the statistics trigger,
 * Migration20261204140000_statistics_lock_order): replacing an earlier input's document is
 * enough. The delete took the document's row, then the dataset's (its cascade to the chunks
 * fires the same trigger): holding the document a group was about to replace, it waited for
 * the dataset's row that group held (test/ingestion/delete-during-ingestion.test.ts).
 * Now it locks those jobs' rows FOR UPDATE in id order before any document: it waits for the
 * groups in flight to commit, and their next group waits for the delete. Jobs already ended
 * hold nothing and are left alone; under row-level security a request sees its tenant's only.
 *
 * Same signature, statement, rows and grants as Migration20261203003019_document_retention's function.
 */
const SIGNATURE = 'delete_documents(p_ids uuid[])';
const RETURNS = `${SIGNATURE} returns table (id uuid, tenant_id uuid, dataset_id uuid, source_key text, title text, chunk_count int, byte_count int)`;

const LOCK_JOBS = `select 1 from ingestion_jobs j
         where j.dataset_id in (select d.dataset_id from documents d where d.id = any(p_ids))
           and j.stage not in ('COMPLETED', 'FAILED', 'CANCELLED')
         order by j.id
           for update of j;`;

function deleteDocumentsSql(lockJobs: boolean): string[] {
  return definerFunctionSql(RETURNS, `language sql volatile security invoker as $$
        ${lockJobs ? `${LOCK_JOBS}\n        ` : ''}${DELETE_DOCUMENTS}
      $$`);
}

export class Migration20261204193000_document_delete_lock_order extends Migration {
  override async up(): Promise<void> {
    for (const statement of deleteDocumentsSql(true)) this.addSql(statement);
  }

  override async down(): Promise<void> {
    for (const statement of deleteDocumentsSql(false)) this.addSql(statement);
  }
}
