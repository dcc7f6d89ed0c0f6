import type { EntityManager } from '@mikro-orm/postgresql';
import { IngestionJob } from './ingestion-job.entity.js';

/**
 * The job, row-locked until the transaction ends: the worker holds it while it settles an
 * input, so a cancel or retry waits for that input instead of racing it.
 *
 * The lock is taken with SQL, then the row is read: `findOne` with `lockMode` (MikroORM
 * 6.6) returned null for a visible row in one transaction after another had loaded the
 * entity (test/ingestion/progress.test.ts, datasetIngestion, found it).
 */
export async function lockJob(em: EntityManager, jobId: string): Promise<IngestionJob | null> {
  await em.getConnection().execute('select 1 from ingestion_jobs where id = ? for update', [jobId], 'all', em.getTransactionContext());
  return em.findOne(IngestionJob, { id: jobId }, { refresh: true });
}
