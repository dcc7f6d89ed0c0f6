/**
 * The queue's daily `retention` task (retention.ts): graphile-worker's cron runs it once
 * across all workers, at 03:00, as the owner role (the queue's connection).
 */
import type { Task } from 'graphile-worker';
import type { Logger } from '../../platform/logging/logger.js';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { applyRetention } from './retention.js';

export const RETENTION_TASK = 'retention';
/**
 * graphile-worker crontab: daily at 03:00, one job per day across all workers. `?max=3` is its
 * attempts (graphile-worker's `max`, not a limit on concurrent runs): a failed run (one
 * transaction, rolled back) is retried with backoff rather than left to the next day.
 */
export const RETENTION_CRONTAB = `0 3 * * * ${RETENTION_TASK} ?max=3`;

export function retentionTask(secrets: SecretBox, log: Logger): Task {
  // Daily (graphile-worker's cron runs it once across all workers): expired audit events,
  // usage records and decisions; audit partitions made ahead. `secrets` digest the chain cuts' events.
  return async (_payload, helpers) => {
    const report = await helpers.withPgClient((client) => applyRetention(client, secrets));
    log.info(report, 'retention applied');
  };
}
