/**
 * A dataset's ingestion jobs locked before a change that touches its chunks or vectors while a
 * job may be writing them. A job writes a group of inputs (or a batch of vectors, or switches
 * the serving model) holding its job's row, then the documents, vectors and dataset row it
 * changes; a change that took any of those first and the job's row last could deadlock with it.
 * Taking the jobs first (FOR UPDATE, in id order) waits for the transaction in flight and makes
 * the job's next one wait for the change; the transaction in flight, asked to yield, rolls back
 * at its next statement instead of making the change wait for all its writes (job-preemption.ts).
 * The same rule in SQL: `delete_documents` (Migration20261204193000_document_delete_lock_order)
 * and document retention.
 *
 * Raw SQL on `ingestion_jobs`: the ingestion domain imports this one (ingestion/job-lock.ts
 * locks a single job), so importing it back would make a circle.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import { askToYield } from '../job-preemption.js';
import { waitAlone } from '../lock-waiters.js';

/** `all`: every job of the dataset (it is being deleted with them); `running`: those not ended. */
export async function lockDatasetJobs(em: EntityManager, datasetId: string, which: 'all' | 'running'): Promise<void> {
  if (!em.isInTransaction()) throw new Error('lockDatasetJobs needs a transaction: the locks last until it ends');
  const running = which === 'running' ? ` and stage not in ('COMPLETED', 'FAILED', 'CANCELLED')` : '';
  // Called by requests (deleting, re-embedding a dataset): one waits at a time (lock-waiters.ts).
  await waitAlone(`dataset-jobs:${datasetId}`, async () => {
    // A group being written rolls back and lets the change go first, then runs again unless its job is gone (job-preemption.ts).
    await askToYield(em, { datasetId });
    await boundSql(em, `select 1 from ingestion_jobs where dataset_id = ?::uuid${running} order by id for update`, [datasetId]);
  });
}

/**
 * Removes the queue entries of the dataset's jobs, in the caller's transaction, before it deletes
 * them with the dataset (dequeue_ingestion, Migration20261207180000_ingestion_dequeue): a
 * deleted job's entry, parked, would wait with nothing to run, uncounted by
 * SLUICE_INGEST_MAX_QUEUED_JOBS, so creating, filling and deleting datasets in a loop grew the queue.
 */
export async function dequeueDatasetJobs(em: EntityManager, datasetId: string): Promise<void> {
  await boundSql(em, `select dequeue_ingestion(array(select id from ingestion_jobs where dataset_id = ?::uuid))`, [datasetId]);
}
