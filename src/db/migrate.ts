/**
 * Applies pending migrations as the owner role. Concurrent starts (several API processes, a
 * worker) serialise on an advisory lock so each migration runs exactly once.
 */
import type { EntitySchema } from '@mikro-orm/core';
import type pg from 'pg';
import type { Logger } from '../platform/logging/logger.js';
import { Logger as QueueLogger, runMigrations as runQueueMigrations } from 'graphile-worker';
import { withClient } from './bootstrap.js';
import { migrationsList } from '../../migrations/index.js';
import { MIGRATIONS_TABLE, openOrm } from './orm.js';
import { enableVectorExtension } from './vector-index.js';

export async function runMigrations(options: {
  ownerUrl: string;
  entities: EntitySchema<any, any>[];
  logger: Logger;
  /** The dimensions given an HNSW index (SLUICE_VECTOR_INDEX_DIMENSIONS): db/vector-index.ts. */
  vectorIndexDimensions: ReadonlySet<number>;
}): Promise<string[]> {
  return withClient(options.ownerUrl, async (lockClient) => {
    await lockClient.query(`select pg_advisory_lock(hashtext('sluice:migrations'))`);
    // Up to date (every start but the first after an upgrade): no second ORM and no migrator,
    // which cost a start a good part of its time (issue 22). Checked under the lock, as `up` is.
    const orm = (await pendingMigrations(lockClient)) ? await openOrm({ clientUrl: options.ownerUrl, entities: options.entities, logger: options.logger, poolMax: 2 }) : undefined;
    try {
      const applied = orm ? await orm.getMigrator().up() : [];
      for (const migration of applied) options.logger.info({ migration: migration.name }, 'applied migration');
      await migrateQueue(options.ownerUrl);
      // Every start, not once: pgvector installed later is picked up by the next migrate.
      await enableVectorExtension(options.ownerUrl, options.logger, options.vectorIndexDimensions);
      return applied.map((migration) => migration.name);
    } finally {
      await orm?.close(true);
      await lockClient.query(`select pg_advisory_unlock(hashtext('sluice:migrations'))`);
    }
  });
}

/** Whether a migration this build ships is not recorded as applied (or no migration table exists yet). */
async function pendingMigrations(client: pg.Client): Promise<boolean> {
  const [{ table }] = (await client.query<{ table: string | null }>(`select to_regclass($1) as table`, [MIGRATIONS_TABLE])).rows as [{ table: string | null }];
  if (!table) return true;
  const applied = new Set((await client.query<{ name: string }>(`select name from ${MIGRATIONS_TABLE}`)).rows.map((row) => row.name));
  return migrationsList.some((migration) => !applied.has(migration.name));
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
