/**
 * The queue's `ingest` task: runs one ingestion job under its lease (job-lease.ts), traced
 * when tracing is on, and fails the job for good once the queue has tried it
 * MAX_QUEUE_ATTEMPTS times. The pipeline's reads and writes go through the app role's ORM
 * with the job's tenant bound, so they pass tenant isolation like any request's. The queue
 * that runs it is platform/queue/job-runner.ts; server/job-worker.ts puts the two together.
 * A job whose tenant's slots are all taken waits parked, out of the shared worker's way, until
 * one frees (waiting-jobs.ts); the task's heartbeat sweep covers a runner that died.
 */
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { Task } from 'graphile-worker';
import type { Orm } from '../../db/orm.js';
import type { Logger } from '../../platform/logging/logger.js';
import { CodedError } from '../errors.js';
import { DocumentParser, type ParseBudget } from './document-parser.js';
import type { EmbedderFactory } from './embedding-stage.js';
import { withJobLease, type LeaseConnection } from './job-lease.js';
import { withTenantSlot } from './tenant-slots.js';
import { failIngestionJob, runIngestionJob, type PipelineDependencies } from './pipeline.js';
import { WriteRate } from './write-rate.js';
import type { JobSnapshot, ProgressBus } from './progress.js';
import { INGEST_TASK, isIngestPayload, MAX_QUEUE_ATTEMPTS, type IngestPayload } from './queue.js';
import { parkJob, placeInQueue, sweepWaitingJobs, wakeWaitingJobs } from './waiting-jobs.js';

/** What a fetched job did under its lease: ran in a slot, or did not (and why). */
type Started = { ran: true; value: JobSnapshot | null } | { ran: false; place: 'ended' | 'behind' | 'no slot' };

export interface IngestTaskDependencies {
  /** The app role's ORM, for the pipeline. */
  orm: Orm;
  /** Each input is parsed and chunked in a worker thread within these bounds. */
  parsing: ParseBudget;
  progress: ProgressBus;
  progressIntervalMs: number;
  /** The EMBEDDING stage's model clients. */
  embedders: EmbedderFactory;
  /** The vector sizes given an HNSW index (db/vector-index.ts). */
  vectorIndexDimensions: ReadonlySet<number>;
  /** Rows one group of a job's inputs writes at most (SLUICE_INGEST_GROUP_ROWS, item-groups.ts); absent: the default. */
  groupRows?: number;
  /** Counts settled inputs for `/metrics` (the process's own); absent: not counted. */
  meter?: PipelineDependencies['meter'];
  /** How long to wait before looking again at a job another runner holds. */
  heartbeatMs: number;
  /** Jobs of one tenant running at once, across every worker (tenant-slots.ts). */
  tenantConcurrency: number;
  /** The worker process running the task, for its spans. */
  instanceId: string;
  log: Logger;
  /** Traces each ingestion job when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT). */
  tracer?: Tracer;
}

export interface IngestTask {
  taskList: { [INGEST_TASK]: Task };
  /** Ends the parser's threads, once the queue runs no job any more. */
  close(): Promise<void>;
  /** At each worker heartbeat: wakes waiting jobs into slots nobody woke them for (a runner died holding one). */
  heartbeat(client: LeaseConnection): Promise<void>;
}

export function ingestTask({ orm, parsing, groupRows, progress, progressIntervalMs, embedders, vectorIndexDimensions, meter, heartbeatMs, tenantConcurrency, instanceId, log, tracer }: IngestTaskDependencies): IngestTask {
  const parser = new DocumentParser(parsing);
  // The worker's chunk INSERT rate, learned across its jobs: a progress estimate while one runs.
  const writeRate = new WriteRate();

  const ingest: Task = async (payload, helpers) => {
    if (!isIngestPayload(payload)) throw new Error('ingest: malformed payload');
    const span = tracer?.startSpan('ingestion job', {
      kind: SpanKind.CONSUMER,
      attributes: { 'sluice.job_id': payload.jobId, 'sluice.attempt': helpers.job.attempts, 'sluice.worker': instanceId },
    });
    try {
      // Once the slot is let go (the job ended, failed or stepped back), the tenant's next waiting job may take it.
      const wakeNext = (client: LeaseConnection) => () => wakeQuietly(client, payload, helpers.job.id);
      const run = await helpers.withPgClient((client) =>
        withJobLease(client, payload.jobId, async (): Promise<Started> => {
          // Before a slot: an ended job's entry (cancelled while queued) costs none, and a job
          // with an older entry of its dataset's queue waiting parks behind it (waiting-jobs.ts).
          const place = await placeInQueue(client, { jobId: payload.jobId, tenantId: payload.tenantId, queueJobId: helpers.job.id });
          if (place !== 'first') return { ran: false, place };
          const slotted = await withTenantSlot(
            client,
            payload.tenantId,
            tenantConcurrency,
            () => runIngestionJob({ orm, progress, progressIntervalMs, parser, embedders, vectorIndexDimensions, meter, writeRate, watchMs: heartbeatMs, groupRows }, payload),
            wakeNext(client),
          );
          return slotted.ran ? slotted : { ran: false, place: 'no slot' };
        }),
      );
      if (!run.held) await lookAgainLater(helpers, payload);
      else if (run.value.ran) {
        if (run.value.value) logOutcome(log, run.value.value);
      } else if (run.value.place === 'ended') {
        // It may have been woken into a slot it will not take: the next one may.
        await helpers.withPgClient((client) => wakeQuietly(client, payload, helpers.job.id));
        log.debug({ jobId: payload.jobId }, 'ingestion job has ended; its queue entry is dropped');
      } else await waitForSlot(helpers, payload, run.value.place);
    } catch (error) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message.slice(0, 200) : 'failed' });
      log.error({ err: error, jobId: payload.jobId, attempt: helpers.job.attempts }, 'ingestion job failed; the queue will retry it');
      if (helpers.job.attempts >= MAX_QUEUE_ATTEMPTS) {
        // The tenant reads this: a coded error's words are written for it; anything else (a
        // statement and its values, a stack) stays in the log line above, under the job's id.
        const cause = error instanceof CodedError ? error.message : `an internal error (logged under job ${payload.jobId})`;
        await failIngestionJob({ orm, progress }, payload, `The job failed ${MAX_QUEUE_ATTEMPTS} times: ${cause}`);
        // The job has ended FAILED: its queue entry completes rather than staying behind as a
        // failed one (graphile-worker keeps those for good), one more for each retryIngestion.
        return;
      }
      throw error;
    } finally {
      span?.end();
    }
  };

  /**
   * Wakes the tenant's next waiting jobs into the slot the job lets go (or did not take). Never
   * throws: the job's own work is done by then, and the heartbeat's sweep wakes what this misses.
   */
  const wakeQuietly = (client: LeaseConnection, payload: IngestPayload, running: string) =>
    wakeWaitingJobs(client, { tenantId: payload.tenantId, slots: tenantConcurrency, running }).then(
      () => undefined,
      (error: unknown) => log.warn({ err: error, jobId: payload.jobId }, 'could not wake the next waiting ingestion job; the heartbeat will'),
    );

  /** The job's queue (its dataset's), and its payload with when it was first queued (to the microsecond, as the queue orders), for queueing it again. */
  const again = async (helpers: Parameters<Task>[1], payload: IngestPayload) => {
    const { rows } = await helpers.query<{ queue_name: string | null; created_at: string }>(
      `select queue_name, to_json(created_at) #>> '{}' as created_at from graphile_worker.jobs where id = $1`,
      [helpers.job.id],
    );
    const queuedAt = payload.queuedAt ?? rows[0]?.created_at ?? new Date(helpers.job.created_at).toISOString();
    return { queueName: rows[0]?.queue_name ?? null, payload: { ...payload, queuedAt } };
  };

  /**
   * Another runner holds the job's lease (the queue's lock was lifted under it): this one leaves
   * the job alone, costing it no attempt, and queues a look for later in the job's queue, so the
   * job is not lost if that runner dies or fails without a retry of its own (completing this
   * entry deletes the queue row both runners were given).
   */
  const lookAgainLater = async (helpers: Parameters<Task>[1], payload: IngestPayload) => {
    const next = await again(helpers, payload);
    await helpers.addJob(INGEST_TASK, next.payload, {
      queueName: next.queueName ?? undefined,
      jobKey: `ingest:${payload.jobId}`,
      jobKeyMode: 'replace',
      runAt: new Date(Date.now() + heartbeatMs),
      maxAttempts: MAX_QUEUE_ATTEMPTS,
    });
    log.warn({ jobId: payload.jobId }, 'ingestion job is held by another runner; looking again later');
  };

  /**
   * Every slot of the job's tenant is taken (tenant-slots.ts), or an older job of its dataset's
   * queue waits: the job waits parked, costing no attempt and no look until a slot frees
   * (waiting-jobs.ts). Woken at once if one freed while it was being parked: the job letting it
   * go may have looked for waiting jobs before this one was. Once parked, the job's part is
   * done: a wake-up that fails is the heartbeat's to make up, not a failure of the job.
   */
  const waitForSlot = async (helpers: Parameters<Task>[1], payload: IngestPayload, why: 'behind' | 'no slot') => {
    const next = await again(helpers, payload);
    const parked = await helpers.withPgClient(async (client) => {
      const parked = await parkJob(client, next.payload, next.queueName);
      await wakeQuietly(client, payload, helpers.job.id);
      return parked;
    });
    if (!parked) log.debug({ jobId: payload.jobId }, 'ingestion job ended while it was being parked; its queue entry is dropped');
    else if (why === 'behind') log.info({ jobId: payload.jobId, tenantId: payload.tenantId }, 'ingestion job waits behind an older job of its dataset');
    else log.info({ jobId: payload.jobId, tenantId: payload.tenantId }, `ingestion job waits for one of its tenant's ${tenantConcurrency} slots`);
  };

  const heartbeat = async (client: LeaseConnection) => {
    const woken = await sweepWaitingJobs(client, tenantConcurrency);
    if (woken === null) log.debug('another process is sweeping the waiting ingestion jobs; this heartbeat skips its sweep');
    else if (woken > 0) log.info({ woken }, 'woke ingestion jobs waiting for slots that no job woke them for');
  };

  return { taskList: { [INGEST_TASK]: ingest }, close: () => parser.close(), heartbeat };
}

/**
 * How the ingestion job ended, in the worker's log. The queue's task succeeds either way (a
 * document that does not parse is the tenant's, not the worker's, failure: retrying will not
 * help), so this line, not the queue's, says whether the job FAILED.
 */
function logOutcome(log: Logger, job: JobSnapshot): void {
  const counts = { jobId: job.jobId, tenantId: job.tenantId, documents: job.documentsTotal, failed: job.documentsFailed, chunks: job.chunksDone };
  const summary = `${job.documentsTotal} documents (${job.documentsFailed} failed), ${job.chunksDone} chunks`;
  if (job.stage === 'FAILED') log.warn({ ...counts, stage: job.stage, error: job.error }, `ingestion job ${job.jobId} FAILED: ${job.error ?? 'no reason recorded'}; ${summary}`);
  else log.info({ ...counts, stage: job.stage }, `ingestion job ${job.jobId} ${job.stage.toLowerCase()}: ${summary}`);
}
