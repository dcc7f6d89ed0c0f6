import type { EntityManager } from '@mikro-orm/postgresql';
import { IngestionJob } from './ingestion-job.entity.js';

/**
 * The job, row-locked until the transaction ends: the worker holds it while it settles an
 * input, so a cancel or retry waits for that input instead of racing it.
 *
 * `key share` is for the transaction settling a group of inputs: a cancel, retry or delete
 * (FOR UPDATE) still waits for it, but a progress step may update the row meanwhile from a
 * transaction of its own (processed-bytes.ts); the settling transaction's own update of the
 * row, at its end, waits for such a step's commit, and writes counts no lower than the step's.
 *
 * The lock is taken with SQL, then the row is read: `findOne` with `lockMode` (MikroORM
 * 6.6) returned null for a visible row in one transaction after another had loaded the
 * entity (test/ingestion/progress.test.ts, datasetIngestion, found it).
 */
export async function lockJob(em: EntityManager, jobId: string, mode: 'update' | 'key share' = 'update'): Promise<IngestionJob | null> {
  const clause = mode === 'update' ? 'for update' : 'for key share';
  await em.getConnection().execute(`select 1 from ingestion_jobs where id = ? ${clause}`, [jobId], 'all', em.getTransactionContext());
  return em.findOne(IngestionJob, { id: jobId }, { refresh: true });
}
