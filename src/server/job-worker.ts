/**
 * The job worker: the queue's runner (platform/queue/job-runner.ts) running the domains'
 * tasks, ingestion (domains/ingestion/ingest-task.ts), daily retention
 * (domains/audit/retention-task.ts), document retention every five minutes (domains/datasets/document-retention-task.ts) and the model health checks (domains/model-health/health-task.ts), the last in a
 * worker pool of their own, outside the jobs' slots. It runs in the API process (default) or alone
 * (`sluice worker`).
 */
import type { Tracer } from '@opentelemetry/api';
import type { Config, WorkerConfig } from '../config.js';
import type { Orm } from '../db/orm.js';
import { RETENTION_CRONTAB, RETENTION_TASK, retentionTask } from '../domains/audit/retention-task.js';
import { DOCUMENT_RETENTION_CRONTAB, DOCUMENT_RETENTION_TASK, documentRetentionTask } from '../domains/datasets/document-retention-task.js';
import { SIGN_IN_ADDRESS_RETENTION_CRONTAB, SIGN_IN_ADDRESS_RETENTION_TASK, signInAddressRetentionTask } from '../domains/identity/sign-in-address-retention.js';
import { ingestTask } from '../domains/ingestion/ingest-task.js';
import type { HealthSettings } from '../domains/model-health/health-rules.js';
import { HEALTH_TASK, healthTask, queueHealthRound } from '../domains/model-health/health-task.js';
import { embedderFor } from '../domains/models/model.service.js';
import type { ServiceDependencies } from '../domains/service-context.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import type { ProgressBus } from '../domains/ingestion/progress.js';
import { startJobRunner, type JobRunner } from '../platform/queue/job-runner.js';
import type { Logger } from '../platform/logging/logger.js';
import type { ProductMeter } from '../platform/telemetry/product-metrics.js';

export interface WorkerDependencies {
  config: WorkerConfig;
  progressIntervalMs: number;
  /** The app role's ORM, for the pipeline. */
  orm: Orm;
  /** The owner's URL: graphile-worker's pool for the queue's own tables. */
  queueUrl: string;
  progress: ProgressBus;
  /** What the EMBEDDING stage needs to call a dataset's embedding model: see `modelAccess`. */
  models: ModelAccess;
  logger: Logger;
  /** Traces each ingestion job when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT). */
  tracer?: Tracer;
  /** Ingestion volume and model calls (embeddings, health checks) for `/metrics`: the process's meter. */
  meter?: ProductMeter;
  /** The model health checks (SLUICE_HEALTH_*); absent: none from this process. */
  health?: HealthSettings;
}

export type SluiceWorker = JobRunner;

/** The master key that opens model API keys, and the providers' timeouts, retries and egress rules. */
export type ModelAccess = Pick<ServiceDependencies, 'secrets' | 'modelSettings' | 'meter'>;

export function modelAccess(config: Pick<Config, 'secrets' | 'models'>): ModelAccess {
  return { secrets: new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys), modelSettings: config.models };
}

export async function startWorker({ config, progressIntervalMs, orm, queueUrl, progress, models, logger, tracer, health, meter }: WorkerDependencies): Promise<SluiceWorker> {
  const log = logger.child({ component: 'worker' });
  // Embedding calls and health checks are counted on the process's meter; what their callers are not told is logged.
  const metered: ModelAccess = { ...models, meter, modelSettings: { ...models.modelSettings, log } };
  return startJobRunner({
    queueUrl,
    concurrency: config.concurrency,
    heartbeatMs: config.heartbeatMs,
    staleAfterMs: config.staleAfterMs,
    log,
    tasks: (instanceId) => {
      const embedders = (model: Parameters<typeof embedderFor>[1]) => embedderFor(metered, model);
      const ingestion = ingestTask({ orm, parsing: config.parsing, groupRows: config.groupRows, vectorIndexDimensions: config.vectorIndexDimensions, progress, progressIntervalMs, embedders, meter, heartbeatMs: config.heartbeatMs, tenantConcurrency: config.tenantConcurrency, instanceId, log, tracer });
      // The health checks run in a pool of their own (one round at a time): however long a
      // tenant's models make a round, it takes none of the slots ingestion jobs run in.
      const checks = health ? { taskList: { [HEALTH_TASK]: healthTask({ orm, models: metered, settings: health, log }) }, concurrency: 1 } : undefined;
      return {
        taskList: {
          ...ingestion.taskList,
          [RETENTION_TASK]: retentionTask(models.secrets, log),
          [DOCUMENT_RETENTION_TASK]: documentRetentionTask(models.secrets, log),
          [SIGN_IN_ADDRESS_RETENTION_TASK]: signInAddressRetentionTask(log),
        },
        ...(checks ? { maintenance: checks } : {}),
        crontab: [RETENTION_CRONTAB, DOCUMENT_RETENTION_CRONTAB, SIGN_IN_ADDRESS_RETENTION_CRONTAB].join('\n'),
        close: ingestion.close,
        heartbeat: ingestion.heartbeat,
        schedule: async (addJob) => {
          if (health) await queueHealthRound(addJob, health);
        },
      };
    },
  });
}
