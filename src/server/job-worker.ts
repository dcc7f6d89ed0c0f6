/**
 * The job worker: the queue's runner (platform/queue/job-runner.ts) running the domains'
 * tasks, ingestion (domains/ingestion/ingest-task.ts) and daily retention
 * (domains/audit/retention-task.ts). It runs in the API process (default) or alone
 * (`sluice worker`).
 */
import type { Tracer } from '@opentelemetry/api';
import type { WorkerConfig } from '../config.js';
import type { Orm } from '../db/orm.js';
import { RETENTION_CRONTAB, RETENTION_TASK, retentionTask } from '../domains/audit/retention-task.js';
import { ingestTask } from '../domains/ingestion/ingest-task.js';
import type { ProgressBus } from '../domains/ingestion/progress.js';
import { startJobRunner, type JobRunner } from '../platform/queue/job-runner.js';
import type { Logger } from '../platform/logging/logger.js';

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

export type SluiceWorker = JobRunner;

export async function startWorker({ config, progressIntervalMs, orm, queueUrl, progress, logger, tracer }: WorkerDependencies): Promise<SluiceWorker> {
  const log = logger.child({ component: 'worker' });
  return startJobRunner({
    queueUrl,
    concurrency: config.concurrency,
    heartbeatMs: config.heartbeatMs,
    staleAfterMs: config.staleAfterMs,
    log,
    tasks: (instanceId) => {
      const ingestion = ingestTask({ orm, parsing: config.parsing, progress, progressIntervalMs, heartbeatMs: config.heartbeatMs, instanceId, log, tracer });
      return {
        taskList: { ...ingestion.taskList, [RETENTION_TASK]: retentionTask(log) },
        crontab: RETENTION_CRONTAB,
        close: ingestion.close,
      };
    },
  });
}
