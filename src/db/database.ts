/**
 * Opens the database Sluice runs on: the server behind DATABASE_URL, or an embedded PostgreSQL
 * in the data directory. Either way, returns the owner URL (migrations) and the app URL (the
 * restricted role the API connects as).
 */
import type { Config } from '../config.js';
import type { Logger } from '../platform/logging/logger.js';
import { appUrlFrom, ensureAppRole, ensureDatabase, withDatabase } from './bootstrap.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js';
import { embeddedMemorySettings } from './embedded-memory.js';

export const EMBEDDED_DATABASE_NAME = 'sluice';

export interface DatabaseHandle {
  ownerUrl: string;
  appUrl: string;
  embedded: EmbeddedDatabase | undefined;
  /** The embedded server's `shared_buffers` when this process started it (not when it shares a running one's). */
  sharedBuffers: string | undefined;
  stop(): Promise<void>;
}

/**
 * `shareRunning`: when a running Sluice holds the embedded database, connect to it (operator
 * commands) rather than refuse (a second `serve`). @default false
 */
export async function openDatabase(config: Config, logger: Logger, { shareRunning = false }: { shareRunning?: boolean } = {}): Promise<DatabaseHandle> {
  let embedded: EmbeddedDatabase | undefined;
  let ownerUrl = config.database.url;
  let sharedBuffers: string | undefined;
  if (!ownerUrl) {
    const settings = embeddedMemorySettings(config.database.embeddedSharedBuffers);
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      password: requireSecret(config.secrets.databasePassword, 'database password'),
      logger,
      shareRunning,
      settings,
    });
    if (!embedded.shared) sharedBuffers = settings.shared_buffers;
    await ensureDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME);
    ownerUrl = withDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME);
  }
  let appUrl = config.database.appUrl;
  if (!appUrl) {
    // Development only (production requires DATABASE_APP_URL): Sluice makes its own app role.
    const password = requireSecret(config.secrets.appDatabasePassword, 'app database password');
    await ensureAppRole(ownerUrl, password);
    appUrl = appUrlFrom(ownerUrl, password);
  }
  return {
    ownerUrl,
    appUrl,
    embedded,
    sharedBuffers,
    async stop() {
      // A shared server belongs to the Sluice that started it.
      if (!embedded || embedded.shared) return;
      await embedded.stop();
      logger.info({ directory: embedded.directory }, 'embedded PostgreSQL stopped');
    },
  };
}

function requireSecret(value: string | undefined, what: string): string {
  if (!value) throw new Error(`No ${what}: development secrets were not loaded`);
  return value;
}
