/**
 * Running one migration again, as the first start after an upgrade runs it: un-recorded, then
 * applied by the real migrator (src/db/migrate.ts) on the test server's database. For
 * migrations that repair rows older code wrote: the test writes such rows first.
 */
import { expect } from 'vitest';
import { runMigrations } from '../../src/db/migrate.js';
import { DEFAULT_VECTOR_INDEX_DIMENSIONS } from '../../src/db/vector-index.js';
import { MIGRATIONS_TABLE } from '../../src/db/orm.js';
import { entities } from '../../src/domains/entities.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { asOwner } from './locks.js';
import type { TestServer } from './server.js';

export async function runMigrationAgain(server: TestServer, name: string): Promise<void> {
  await asOwner(server, (client) => client.query(`delete from ${MIGRATIONS_TABLE} where name = $1`, [name]));
  expect(await runMigrations({ ownerUrl: server.database.ownerUrl, entities, logger: createLogger({ level: 'silent' }), vectorIndexDimensions: new Set(DEFAULT_VECTOR_INDEX_DIMENSIONS) })).toEqual([name]);
}
