/**
 * The durable queue under ingestion: graphile-worker's tables in the same database, owned by
 * the owner role. Jobs are added with SQL in the caller's transaction, so an ingestion job and
 * its queue entry commit (or roll back) together. One queue per dataset: its jobs run one at
 * a time, in order, on whichever worker takes them, which keeps re-ingestion race-free.
 * The task name and attempts here must match the SQL function `enqueue_ingestion`.
 */
import type { EntityManager } from '@mikro-orm/postgresql';

export const INGEST_TASK = 'ingest';
export const MAX_QUEUE_ATTEMPTS = 5;

export interface IngestPayload {
  tenantId: string;
  jobId: string;
}

export function isIngestPayload(value: unknown): value is IngestPayload {
  const payload = value as IngestPayload;
  return typeof payload?.tenantId === 'string' && typeof payload.jobId === 'string';
}

/** Adds the job's queue entry in the caller's transaction (via enqueue_ingestion, see the migration). */
export async function enqueueIngestion(em: EntityManager, jobId: string): Promise<void> {
  await em.getConnection().execute('select enqueue_ingestion(?)', [jobId], 'run', em.getTransactionContext());
}
