/**
 * The queue's `document-retention` task (document-retention.ts): graphile-worker's cron runs it
 * every five minutes, once across all workers, as the owner role (the queue's connection). A
 * deployment that promises "24 hours" keeps a document at most five minutes longer.
 */
import type { Task } from 'graphile-worker';
import type { Logger } from '../../platform/logging/logger.js';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { applyDocumentRetention } from './document-retention.js';

export const DOCUMENT_RETENTION_TASK = 'document-retention';
/** graphile-worker crontab: every five minutes, one job each time across all workers; `?max=1` is one attempt (graphile-worker's `max`): a failed run waits for the next. */
export const DOCUMENT_RETENTION_CRONTAB = `*/5 * * * * ${DOCUMENT_RETENTION_TASK} ?max=1`;

export function documentRetentionTask(secrets: SecretBox, log: Logger): Task {
  return async (_payload, helpers) => {
    const report = await helpers.withPgClient((client) => applyDocumentRetention(client, secrets));
    if (report.documentsDeleted > 0) log.info(report, 'expired documents removed');
  };
}
