/**
 * The job worker: graphile-worker running the ingestion task, in the API process (default)
 * or alone (`sluice worker`). The queue itself is the owner's (graphile-worker guards its
 * tables); the pipeline's reads and writes go through the app role's ORM with the job's tenant
 * bound, so they pass tenant isolation like any request's.
 *
 * Recovery from a dead process: graphile-worker keeps a crashed worker's jobs locked for
 * hours. Each process therefore records the ids its queue locks jobs with (graphile-worker
 * 0.17 locks with its worker *pool's* id, not a worker's) with a heartbeat; every process
 * regularly unlocks jobs held by pools whose process has gone quiet, so the job resumes
 * elsewhere (or after a restart) within `staleAfterMs`. Recording only the workers' ids made
 * every job running longer than `staleAfterMs` look abandoned: it was unlocked under its live
 * runner and a second worker ran it at once (issue 17, item 12). The job lease
 * (domains/ingestion/job-lease.ts) makes a second runner impossible even then.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { Logger as QueueLogger, makeWorkerUtils, run, type Runner, type Task, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import pg, { type PoolClient } from 'pg';
import type { WorkerConfig } from './config.js';
import type { Orm } from './db/orm.js';
import { applyRetention } from './domains/audit/retention.js';
import { DocumentParser } from './domains/ingestion/document-parser.js';
import { withJobLease } from './domains/ingestion/job-lease.js';
import { failIngestionJob, runIngestionJob } from './domains/ingestion/pipeline.js';
import type { ProgressBus } from './domains/ingestion/progress.js';
import { INGEST_TASK, isIngestPayload, MAX_QUEUE_ATTEMPTS } from './domains/ingestion/queue.js';
import type { Logger } from './logger.js';

export interface WorkerDependencies {
  config: WorkerConfig;
  progressIntervalMs: number;
  /** The app role's ORM, for the pipeline. */
  orm: Orm;
  /** The owner's URL: graphile-worker's pool for the queue's own tables. */
  queueUrl: string;
  progress: ProgressBus;
  logger: Logger;
  /** Traces each ingestion job when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT). */
  tracer?: Tracer;
}

export interface SluiceWorker {
  readonly instanceId: string;
  /** Finishes running jobs (or gives them back to the queue), then stops. */
  stop(): Promise<void>;
}

const RETENTION_TASK = 'retention';
/**
 * The queue and its helpers share one pool: graphile-worker's default size (docs/scaling.md),
 * or more when more jobs run at once, since each running ingestion job holds one connection
 * for its lease and the queue needs a few besides (LISTEN, completions, the heartbeat).
 */
const queuePoolSize = (concurrency: number) => Math.max(10, concurrency + 4);

export async function startWorker({ config, progressIntervalMs, orm, queueUrl, progress, logger, tracer }: WorkerDependencies): Promise<SluiceWorker> {
  const log = logger.child({ component: 'worker' });
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const workerIds = new Set<string>();
  const parser = new DocumentParser(config.parsing);

  const ingest: Task = async (payload, helpers) => {
    if (!isIngestPayload(payload)) throw new Error('ingest: malformed payload');
    const span = tracer?.startSpan('ingestion job', {
      kind: SpanKind.CONSUMER,
      attributes: { 'sluice.job_id': payload.jobId, 'sluice.attempt': helpers.job.attempts, 'sluice.worker': instanceId },
    });
    try {
      const run = await helpers.withPgClient((client) => withJobLease(client, payload.jobId, () => runIngestionJob({ orm, progress, progressIntervalMs, parser }, payload)));
      if (!run.held) await lookAgainLater(helpers, payload);
    } catch (error) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message.slice(0, 200) : 'failed' });
      log.error({ err: error, jobId: payload.jobId, attempt: helpers.job.attempts }, 'ingestion job failed; the queue will retry it');
      if (helpers.job.attempts >= MAX_QUEUE_ATTEMPTS) {
        await failIngestionJob({ orm, progress }, payload, `The job failed ${MAX_QUEUE_ATTEMPTS} times: ${error instanceof Error ? error.message : String(error)}`);
      }
      throw error;
    } finally {
      span?.end();
    }
  };

  // Daily (graphile-worker's cron runs it once across all workers): expired audit events,
  // usage records and decisions; audit partitions made ahead.
  const retention: Task = async (_payload, helpers) => {
    const report = await helpers.withPgClient((client) => applyRetention(client));
    log.info(report, 'retention applied');
  };

  /**
   * Another runner holds the job's lease (the queue's lock was lifted under it): this one
   * leaves the job alone, costing it no attempt, and queues a look for later in the job's
   * queue, so the job is not lost if that runner dies or fails without a retry of its own
   * (completing this entry deletes the queue row both runners were given).
   */
  const lookAgainLater = async (helpers: Parameters<Task>[1], payload: { jobId: string }) => {
    const { rows } = await helpers.query<{ queue_name: string | null }>('select queue_name from graphile_worker.jobs where id = $1', [helpers.job.id]);
    await helpers.addJob(INGEST_TASK, payload, {
      queueName: rows[0]?.queue_name ?? undefined,
      jobKey: `ingest:${payload.jobId}`,
      jobKeyMode: 'replace',
      runAt: new Date(Date.now() + config.heartbeatMs),
      maxAttempts: MAX_QUEUE_ATTEMPTS,
    });
    log.warn({ jobId: payload.jobId }, 'ingestion job is held by another runner; looking again later');
  };

  // Listening before `run` creates its pool and workers, so no lock owner goes unrecorded.
  // Jobs are locked with the pool's id; the workers' ids are kept too (older graphile-worker
  // versions locked with those).
  const events = new EventEmitter() as WorkerEvents;
  events.on('pool:create', ({ workerPool }) => workerIds.add(workerPool.id));
  events.on('worker:create', ({ worker }) => workerIds.add(worker.workerId));
  // The queue's connections in a pool of ours, with an 'error' listener for its whole life:
  // graphile-worker's own pools drop theirs before they end, and a connection the database
  // closed in between (a shutdown, a restart) crashed the process with an unhandled 'error'.
  const pgPool = new pg.Pool({ connectionString: queueUrl, max: queuePoolSize(config.concurrency) });
  const connectionFailed = (error: Error) => log.warn({ err: error }, 'a queue connection failed; the pool replaces it');
  pgPool.on('error', connectionFailed);
  // A connection in use reports its error to the query too; this listener only keeps it from crashing us.
  pgPool.on('connect', (client) => client.on('error', connectionFailed));
  const runner: Runner = await run({
    events,
    pgPool,
    concurrency: config.concurrency,
    noHandleSignals: true,
    pollInterval: 2000,
    taskList: { [INGEST_TASK]: ingest, [RETENTION_TASK]: retention },
    crontab: `0 3 * * * ${RETENTION_TASK} ?max=1`,
    logger: queueLogger(log),
  });

  const utils = await makeWorkerUtils({ pgPool, logger: queueLogger(log) });
  const beat = () =>
    utils.withPgClient(async (client) => {
      await client.query(
        `insert into worker_instances (id, worker_ids, started_at, heartbeat_at) values ($1, $2, now(), now())
         on conflict (id) do update set worker_ids = excluded.worker_ids, heartbeat_at = now()`,
        [instanceId, [...workerIds]],
      );
      await recoverStaleWorkers(client, utils, config.staleAfterMs, log);
    });
  await beat();
  const timer = setInterval(() => beat().catch((error) => log.warn({ err: error }, 'worker heartbeat failed')), config.heartbeatMs);
  log.info({ instanceId, concurrency: config.concurrency }, 'job worker started');

  return {
    instanceId,
    async stop() {
      clearInterval(timer);
      await runner.stop();
      await parser.close();
      await utils.withPgClient((client) => client.query('delete from worker_instances where id = $1', [instanceId])).catch(() => undefined);
      await utils.release();
      await pgPool.end();
      log.info({ instanceId }, 'job worker stopped');
    },
  };
}

/**
 * Unlocks the queue jobs of lock owners that no live process claims: those a stale instance
 * lists (at once: its heartbeat already waited `staleAfterMs`), and locks older than
 * `staleAfterMs` by owners no instance lists (a process that died before its first heartbeat).
 */
async function recoverStaleWorkers(client: PoolClient, utils: WorkerUtils, staleAfterMs: number, log: Logger): Promise<void> {
  const stale = `now() - make_interval(secs => $1 / 1000.0)`;
  const { rows } = await client.query<{ locked_by: string }>(
    `select distinct j.locked_by from graphile_worker.jobs j
      where j.locked_by is not null
        and not exists (select 1 from worker_instances w where j.locked_by = any(w.worker_ids) and w.heartbeat_at >= ${stale})
        and (j.locked_at < ${stale} or exists (select 1 from worker_instances w where j.locked_by = any(w.worker_ids)))`,
    [staleAfterMs],
  );
  if (rows.length > 0) {
    const ids = rows.map((row) => row.locked_by);
    await utils.forceUnlockWorkers(ids);
    log.warn({ workerIds: ids }, 'unlocked the jobs of workers that stopped without releasing them; they resume now');
  }
  // Rows of dead processes are kept a while (ten stale periods) so the unlock above sees them first.
  await client.query(`delete from worker_instances where heartbeat_at < now() - make_interval(secs => $1 * 10 / 1000.0)`, [staleAfterMs]);
}

function queueLogger(log: Logger): QueueLogger {
  return new QueueLogger((scope) => (level, message, meta) => {
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : level === 'info' ? 'info' : 'debug';
    log[method]({ queue: scope, ...meta }, message);
  });
}
