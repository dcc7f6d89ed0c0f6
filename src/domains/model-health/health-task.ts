/**
 * The queue's `model-health` task: one round of checks (health-round.ts), then the next
 * round queued `intervalS` later. Every round is the one job under the job key
 * `model-health`, so however many worker processes run, one round runs per interval: a
 * process starting adds the key's job only if none waits (`preserve_run_at`), and the round
 * that runs queues its successor. graphile-worker's cron is not used: it counts in minutes.
 */
import type { AddJobFunction, Task } from 'graphile-worker';
import type { Orm } from '../../db/orm.js';
import type { Logger } from '../../platform/logging/logger.js';
import type { HealthSettings } from './health-rules.js';
import { runHealthRound } from './health-round.js';
import type { ModelAccess } from './model-check.js';

export const HEALTH_TASK = 'model-health';
const HEALTH_JOB_KEY = 'model-health';

export interface HealthTaskDependencies {
  orm: Orm;
  models: ModelAccess;
  settings: HealthSettings;
  log: Logger;
}

/** The tenants with a published endpoint: read over the queue's (owner) connection, which alone sees every tenant's endpoints. */
const PUBLISHING_TENANTS = 'select distinct tenant_id from endpoints where published order by tenant_id';

export function healthTask({ orm, models, settings, log }: HealthTaskDependencies): Task {
  return async (_payload, helpers) => {
    // Checks turned off since this job was queued: it ends the chain.
    if (settings.intervalS === 0) return;
    try {
      const report = await runHealthRound({
        orm,
        models,
        settings,
        log,
        signal: helpers.abortSignal,
        publishingTenants: async () => (await helpers.query<{ tenant_id: string }>(PUBLISHING_TENANTS)).rows.map((row) => row.tenant_id),
      });
      log.debug(report, 'model health checked');
    } catch (error) {
      // A round that fails (the database restarting) is skipped; the chain goes on.
      log.warn({ err: error }, 'a model health round failed; the next one runs as planned');
    }
    await queueHealthRound(helpers.addJob, settings, new Date(Date.now() + settings.intervalS * 1000));
  };
}

/** Queues the round at `runAt`, unless one already waits (then that one stays as it is). */
export async function queueHealthRound(addJob: AddJobFunction, settings: HealthSettings, runAt = new Date()): Promise<void> {
  if (settings.intervalS === 0) return;
  await addJob(HEALTH_TASK, {}, { jobKey: HEALTH_JOB_KEY, jobKeyMode: 'preserve_run_at', runAt, maxAttempts: 10 });
}
