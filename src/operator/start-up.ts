/** What every operator command logs before it runs: where the secrets and the database come from. */
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/database.js';
import { redactUrl, type Logger } from '../platform/logging/logger.js';

export function reportSecrets(config: Config, logger: Logger): void {
  const source = config.secretsSource;
  if (source.kind === 'generated') {
    logger.warn(
      { file: source.file },
      `generated local development secrets in ${source.file} (mode 0600); production requires JWT_SECRET and SLUICE_MASTER_KEY in the environment`,
    );
  } else if (source.kind === 'reused') {
    logger.info({ file: source.file }, `using local development secrets from ${source.file}`);
  }
}

export function reportDatabase(config: Config, database: DatabaseHandle, logger: Logger): void {
  const embedded = database.embedded;
  logger.info(
    { database: redactUrl(database.ownerUrl), embedded: Boolean(embedded), shared: embedded?.shared ?? false, dataDir: config.dataDir, sharedBuffers: database.sharedBuffers },
    embedded
      ? `embedded PostgreSQL ${embeddedStart(embedded)} in ${embedded.directory} on port ${embedded.port}${database.sharedBuffers ? ` (shared_buffers ${database.sharedBuffers})` : ''}`
      : 'using the PostgreSQL server from DATABASE_URL',
  );
}

function embeddedStart(embedded: NonNullable<DatabaseHandle['embedded']>): string {
  if (embedded.shared) return 'shared with the running Sluice that started it';
  if (embedded.created) return 'created';
  return embedded.recovered ? 'started (after stopping the one a killed Sluice left running)' : 'started';
}
