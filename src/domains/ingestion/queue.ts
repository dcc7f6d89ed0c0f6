/**
 * The durable queue under ingestion: graphile-worker's tables in the same database, owned by
 * the owner role. Jobs are added with SQL in the caller's transaction, so an ingestion job and
 * its queue entry commit (or roll back) together. One queue per dataset: its jobs run one at
 * a time, in order, on whichever worker takes them, which keeps re-ingestion race-free.
 * The task name and attempts here must match the SQL function `enqueue_ingestion`.
 *
 * A tenant may have at most SLUICE_INGEST_MAX_QUEUED_JOBS jobs not yet ended (queued or
 * running); one more is refused RATE_LIMITED (`reason: QUEUED_JOBS`). Waiting jobs cost the
 * worker little (waiting-jobs.ts), but each is still looked at once and its inputs are stored
 * until it runs: nothing else bounded how many one tenant could pile up.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { RateLimitedError } from '../errors.js';
import { TERMINAL_STAGES } from './stages.js';

export const INGEST_TASK = 'ingest';
export const MAX_QUEUE_ATTEMPTS = 5;

export interface IngestPayload {
  tenantId: string;
  jobId: string;
  /** When the job was first queued (ISO 8601), kept once it waits for a slot: its tenant's parked jobs are woken in this order (waiting-jobs.ts). */
  queuedAt?: string;
}

export function isIngestPayload(value: unknown): value is IngestPayload {
  const payload = value as IngestPayload;
  return typeof payload?.tenantId === 'string' && typeof payload.jobId === 'string' && (payload.queuedAt === undefined || typeof payload.queuedAt === 'string');
}

/**
 * Serialises, until the transaction ends, the requests of one tenant that queue jobs: the count
 * against the limit, and a re-embed's look for one already queued, see every job queued before.
 */
export async function lockTenantQueue(em: EntityManager, tenantId: string): Promise<void> {
  await em.getConnection().execute(`select pg_advisory_xact_lock(hashtextextended(?, 0))`, [`ingestion-queue:${tenantId}`], 'all', em.getTransactionContext());
}

/**
 * Refuses (RATE_LIMITED, QUEUED_JOBS) a request that would queue one more job when the tenant
 * already has `maxQueuedJobs` not ended: before the request reads, decodes or writes its inputs.
 * An upload refused only by `enqueueIngestion`'s count had its inputs written first (up to
 * SLUICE_INGEST_MAX_REQUEST_BYTES), then rolled back, for every refused retry. Without the
 * queue's lock: `enqueueIngestion` counts again under it (two requests at once can both pass here).
 */
export async function assertQueueRoom(em: EntityManager, tenantId: string, maxQueuedJobs: number): Promise<void> {
  if ((await unendedJobs(em, tenantId)) >= maxQueuedJobs) throw queueFull(maxQueuedJobs);
}

/**
 * Adds the job's queue entry in the caller's transaction (via enqueue_ingestion, see the
 * migration), once the job's row says QUEUED; refused (RATE_LIMITED, QUEUED_JOBS) when the
 * tenant would have more than `maxQueuedJobs` jobs not ended, this one included. The lock is
 * taken only now, not before the job's inputs are written: held to the transaction's end, it
 * would make a tenant's uploads write one after another (a caller refused at the limit is
 * refused before writing, by `assertQueueRoom`).
 */
export async function enqueueIngestion(em: EntityManager, tenantId: string, jobId: string, maxQueuedJobs: number): Promise<void> {
  await lockTenantQueue(em, tenantId);
  if ((await unendedJobs(em, tenantId)) > maxQueuedJobs) throw queueFull(maxQueuedJobs);
  await em.getConnection().execute('select enqueue_ingestion(?)', [jobId], 'run', em.getTransactionContext());
}

async function unendedJobs(em: EntityManager, tenantId: string): Promise<number> {
  const [row] = await em
    .getConnection()
    .execute<{ unended: number }[]>(
      `select count(*)::int as unended from ingestion_jobs where tenant_id = ? and stage not in (${TERMINAL_STAGES.map(() => '?').join(', ')})`,
      [tenantId, ...TERMINAL_STAGES],
      'all',
      em.getTransactionContext(),
    );
  return row?.unended ?? 0;
}

function queueFull(maxQueuedJobs: number): RateLimitedError {
  return new RateLimitedError(
    `The tenant already has ${maxQueuedJobs} ingestion and re-embed jobs queued or running, the most it may have at once: wait for some to end (or cancel some), then try again`,
    30,
    { reason: 'QUEUED_JOBS', max: maxQueuedJobs },
  );
}

/**
 * Removes the queue entries of jobs the caller ends without the worker (a cancel), in its
 * transaction (via dequeue_ingestion, see its migration): an ended job's entry would otherwise
 * stay queued, parked for good if it was waiting, beyond the count SLUICE_INGEST_MAX_QUEUED_JOBS
 * bounds. An entry being run is kept, but graphile-worker will not retry it.
 */
export async function dequeueIngestion(em: EntityManager, jobIds: readonly string[]): Promise<void> {
  // An array literal: a bound array would be spread into a list.
  await em.getConnection().execute('select dequeue_ingestion(?::uuid[])', [`{${jobIds.join(',')}}`], 'run', em.getTransactionContext());
}
