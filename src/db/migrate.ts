/**
 * Applies pending migrations as the owner role. Concurrent starts (several API processes, a
 * worker) serialise on an advisory lock so each migration runs exactly once.
 */
import type { EntitySchema } from '@mikro-orm/core';
import type { Logger } from '../platform/logging/logger.js';
import { Logger as QueueLogger, runMigrations as runQueueMigrations } from 'graphile-worker';
import { withClient } from './bootstrap.js';
import { migrationsList } from '../../migrations/index.js';
import { openOrm } from './orm.js';
import { enableVectorExtension } from './vector-index.js';

export async function runMigrations(options: {
  ownerUrl: string;
  entities: EntitySchema<any, any>[];
  logger: Logger;
}): Promise<string[]> {
  return withClient(options.ownerUrl, async (lockClient) => {
    await lockClient.query(`select pg_advisory_lock(hashtext('sluice:migrations'))`);
    const orm = await openOrm({ clientUrl: options.ownerUrl, entities: options.entities, logger: options.logger, poolMax: 2 });
    try {
      const applied = await orm.getMigrator().up();
      for (const migration of applied) options.logger.info({ migration: migration.name }, 'applied migration');
      await migrateQueue(options.ownerUrl);
      // Every start, not once: pgvector installed later is picked up by the next migrate.
      await enableVectorExtension(options.ownerUrl, options.logger);
      return applied.map((migration) => migration.name);
    } finally {
      await orm.close(true);
      await lockClient.query(`select pg_advisory_unlock(hashtext('sluice:migrations'))`);
    }
  });
}

/**
 * The job queue's own schema: graphile-worker migrates it (it is versioned with the package).
 * It stays the owner's: the app role reaches it only through `enqueue_ingestion`.
 */
async function migrateQueue(ownerUrl: string): Promise<void> {
  await runQueueMigrations({ connectionString: ownerUrl, logger: new QueueLogger(() => () => {}) });
}

/** Name of the newest migration this build ships, which a ready database must have applied. */
export function latestMigrationName(): string | undefined {
  return migrationsList.at(-1)?.name;
}
