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
 * `no key update` is for a step of progress (processed-bytes.ts) and for the counts a settling
 * group writes at its end: it waits for no group's KEY SHARE, and one at a time updates the row.
 *
 * The lock is taken with SQL, then the row is read: `findOne` with `lockMode` (MikroORM
 * 6.6) returned null for a visible row in one transaction after another had loaded the
 * entity (test/ingestion/progress.test.ts, datasetIngestion, found it).
 */
export async function lockJob(em: EntityManager, jobId: string, mode: 'update' | 'no key update' | 'key share' = 'update'): Promise<IngestionJob | null> {
  await em.getConnection().execute(`select 1 from ingestion_jobs where id = ? for ${mode}`, [jobId], 'all', em.getTransactionContext());
  // Read as committed, over anything this unit of work changed in the entity since it was
  // loaded (never flushed first: a settling group's copy may be older than the row).
  return em.findOne(IngestionJob, { id: jobId }, { refresh: true, flushMode: 'commit' });
}
