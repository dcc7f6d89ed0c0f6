/**
 * The job queue's runner: graphile-worker running the tasks it is given (server/job-worker.ts
 * gives it the domains' ingestion and retention tasks), in the API process (default) or alone
 * (`sluice worker`). The queue itself is the owner's (graphile-worker guards its tables).
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
import { Logger as QueueLogger, makeWorkerUtils, run, type Runner, type TaskList, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import pg, { type PoolClient } from 'pg';
import type { Logger } from '../logging/logger.js';

export interface JobRunnerOptions {
  /** The owner's URL: graphile-worker's pool for the queue's own tables. */
  queueUrl: string;
  concurrency: number;
  heartbeatMs: number;
  /** A worker process silent this long is presumed dead and its jobs are unlocked to resume. */
  staleAfterMs: number;
  log: Logger;
  /** The tasks this process runs, given its instance id (their spans and logs name it). */
  tasks(instanceId: string): JobTasks;
}

export interface JobTasks {
  taskList: TaskList;
  /**
   * Background maintenance run by a worker pool of its own, beside the jobs' `concurrency`
   * slots (graphile-worker's workers fetch only the tasks they know): work whose length a
   * tenant's configuration decides (the model health checks) never takes a slot tenants' jobs need.
   */
  maintenance?: { taskList: TaskList; concurrency: number };
  /** graphile-worker crontab lines, if any task runs on a schedule. */
  crontab?: string;
  /** Releases what the tasks hold, once the queue runs none of them any more. */
  close?(): Promise<void>;
  /**
   * Runs at each heartbeat of the process, on a queue connection (the ingestion task wakes jobs
   * that wait for a slot nobody woke them for): never two at once (a beat while one runs skips
   * it), and a throw is logged, failing neither the beat nor the worker's start.
   */
  heartbeat?(client: PoolClient): Promise<void>;
  /** Queues what must run from the start (a recurring task's first run), once the queue runs. */
  schedule?(addJob: WorkerUtils['addJob']): Promise<void>;
}

export interface JobRunner {
  readonly instanceId: string;
  /** Finishes running jobs (or gives them back to the queue) and the heartbeat in flight, then stops. */
  stop(): Promise<void>;
}

/**
 * The queue and its helpers share one pool: graphile-worker's default size (docs/scaling.md),
 * or more when more jobs run at once, since each running ingestion job holds one connection
 * for its lease and the queue needs a few besides (LISTEN, completions, the heartbeat).
 */
const queuePoolSize = (concurrency: number) => Math.max(10, concurrency + 4);

export async function startJobRunner({ queueUrl, concurrency, heartbeatMs, staleAfterMs, log, tasks: tasksOf }: JobRunnerOptions): Promise<JobRunner> {
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const workerIds = new Set<string>();
  const tasks = tasksOf(instanceId);

  // Listening before `run` creates its pool and workers, so no lock owner goes unrecorded.
  // Jobs are locked with the pool's id; the workers' ids are kept too (older graphile-worker
  // versions locked with those).
  const events = new EventEmitter() as WorkerEvents;
  events.on('pool:create', ({ workerPool }) => workerIds.add(workerPool.id));
  events.on('worker:create', ({ worker }) => workerIds.add(worker.workerId));
  // The queue's connections in a pool of ours, with an 'error' listener for its whole life:
  // graphile-worker's own pools drop theirs before they end, and a connection the database
  // closed in between (a shutdown, a restart) crashed the process with an unhandled 'error'.
  // The maintenance pool's workers hold connections too, and it has its own LISTEN connection.
  const pgPool = new pg.Pool({ connectionString: queueUrl, max: queuePoolSize(concurrency) + (tasks.maintenance ? tasks.maintenance.concurrency + 1 : 0) });
  const connectionFailed = (error: Error) => log.warn({ err: error }, 'a queue connection failed; the pool replaces it');
  pgPool.on('error', connectionFailed);
  // A connection in use reports its error to the query too; this listener only keeps it from crashing us.
  pgPool.on('connect', (client) => client.on('error', connectionFailed));
  const runner: Runner = await run({
    events,
    pgPool,
    concurrency,
    noHandleSignals: true,
    pollInterval: 2000,
    taskList: tasks.taskList,
    ...(tasks.crontab ? { crontab: tasks.crontab } : {}),
    logger: queueLogger(log),
  });
  const maintenance: Runner | undefined = tasks.maintenance
    ? await run({ events, pgPool, concurrency: tasks.maintenance.concurrency, noHandleSignals: true, pollInterval: 2000, taskList: tasks.maintenance.taskList, logger: queueLogger(log) })
    : undefined;

  const utils = await makeWorkerUtils({ pgPool, logger: queueLogger(log) });
  const record = oneAtATime(() =>
    utils.withPgClient(async (client) => {
      await client.query(
        `insert into worker_instances (id, worker_ids, started_at, heartbeat_at) values ($1, $2, now(), now())
         on conflict (id) do update set worker_ids = excluded.worker_ids, heartbeat_at = now()`,
        [instanceId, [...workerIds]],
      );
      await recoverStaleWorkers(client, utils, staleAfterMs, log);
    }),
  );
  // The tasks' own heartbeat on a connection of its own, one at a time: a slow one (waiting on a
  // queue row) is not started again beside itself at every beat, holding a connection each, and
  // does not hold back the process's record above, which says it is alive. It fails alone:
  // logged, never failing the beat or the worker's start (until 2026-12-07 it did both).
  const { heartbeat } = tasks;
  const taskBeat = oneAtATime(async () => {
    if (heartbeat) await utils.withPgClient((client) => heartbeat(client)).catch((error: unknown) => log.warn({ err: error }, "the tasks' heartbeat failed; the next one tries again"));
  });
  const beat = async () => {
    await record();
    await taskBeat();
  };
  await beat();
  await tasks.schedule?.((identifier, payload, spec) => utils.addJob(identifier, payload, spec));
  const timer = setInterval(() => {
    record().catch((error: unknown) => log.warn({ err: error }, 'worker heartbeat failed'));
    void taskBeat();
  }, heartbeatMs);
  log.info({ instanceId, concurrency }, 'job worker started');

  return {
    instanceId,
    async stop() {
      clearInterval(timer);
      // No beat starts after this; one in flight is waited for before the instance's row is
      // removed: until 2026-12-07 a beat still writing recorded the row again after the stop
      // removed it, a ghost of a stopped process (test/ingestion/worker-stop.test.ts).
      const beats = [record.inFlight()?.catch(() => undefined), taskBeat.inFlight()].filter((beat) => beat !== undefined);
      if (beats.length > 0) log.info({ instanceId }, 'job worker stops once its heartbeat in flight ends');
      await Promise.all([runner.stop(), maintenance?.stop(), ...beats]);
      await tasks.close?.();
      await utils.withPgClient((client) => client.query('delete from worker_instances where id = $1', [instanceId])).catch(() => undefined);
      await utils.release();
      await pgPool.end();
      log.info({ instanceId }, 'job worker stopped');
    },
  };
}

/**
 * `run`, unless a call of it is still in flight: then that call's promise (beats must not pile
 * up). `inFlight` is that call, if any, for a stop to wait for.
 */
function oneAtATime(run: () => Promise<unknown>): (() => Promise<void>) & { inFlight(): Promise<void> | undefined } {
  let current: Promise<void> | undefined;
  const call = () => {
    current ??= (async () => {
      try {
        await run();
      } finally {
        current = undefined;
      }
    })();
    return current;
  };
  return Object.assign(call, { inFlight: () => current });
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

/**
 * graphile-worker's lines, made short: its messages carry whole job rows (payload, lock,
 * timestamps: 360–800 characters a line) and a task's stack inside the message. Kept: the
 * queue job's id, task, attempt and duration, the error as `err`. A task that ran to its end is
 * logged at `debug` as "ran", never "with success": the task's own line says how the work
 * ended (an ingestion job can end FAILED while its queue task succeeds).
 */
function queueLogger(log: Logger): QueueLogger {
  return new QueueLogger(() => (level, message, meta) => {
    const job = meta?.job as QueueJob | undefined;
    const fields = job ? { queueJob: job.id, task: job.task_identifier, attempt: job.attempts, maxAttempts: job.max_attempts } : {};
    const ms = typeof meta?.duration === 'number' ? Math.round(meta.duration) : undefined;
    if (job && meta?.success) {
      log.debug({ ...fields, ms }, `queue task ${job.task_identifier} #${job.id} ran in ${ms} ms`);
      return;
    }
    if (job && meta?.failure) {
      const error = meta.error instanceof Error ? meta.error : new Error(String(meta.error));
      log.error({ ...fields, ms, err: error }, `queue task ${job.task_identifier} #${job.id} failed (attempt ${job.attempts} of ${job.max_attempts}): ${error.message}`);
      return;
    }
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : level === 'info' ? 'info' : 'debug';
    const { job: _row, ...rest } = meta ?? {};
    // The first line only: graphile-worker appends stacks to some messages.
    log[method]({ ...fields, ...rest }, message.split('\n', 1)[0]!);
  });
}

/** The fields of a graphile-worker job row that a log line keeps. */
interface QueueJob {
  id: string;
  task_identifier: string;
  attempts: number;
  max_attempts: number;
}
