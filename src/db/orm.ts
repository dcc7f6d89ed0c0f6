/**
 * MikroORM set-up. The API and the migrator share these options; they differ in the role they
 * connect as (the owner migrates, the restricted app role serves).
 */
import { MikroORM, type EntitySchema, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { migrationsList } from '../../migrations/index.js';
import type { Logger } from '../platform/logging/logger.js';
import { serialiseQueries } from './serial-queries.js';
import { TenantSessionSubscriber } from './tenant-session.js';

export type Orm = MikroORM<PostgreSqlDriver>;

export const MIGRATIONS_TABLE = 'mikro_orm_migrations';

export interface OrmSettings {
  clientUrl: string;
  entities: EntitySchema<any, any>[];
  logger?: Logger;
  poolMax?: number;
  /** How long an entry point's transaction waits for a lock (TenantScope.begin); none when absent. */
  requestLockTimeoutMs?: number;
  /** Log every SQL statement at debug level (tests count statements with it). */
  onQuery?: (sql: string) => void;
}

export function ormOptions(settings: OrmSettings): Options<PostgreSqlDriver> {
  return {
    driver: PostgreSqlDriver,
    clientUrl: settings.clientUrl,
    entities: settings.entities,
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    extensions: [Migrator],
    migrations: {
      tableName: MIGRATIONS_TABLE,
      path: 'migrations',
      pathTs: 'migrations',
      // A static list: vitest and plain node both load migrations without importing .ts by path.
      migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
    },
    // The job queue's schema belongs to graphile-worker (migrated by it, see db/migrate.ts).
    // The audit trail is partitioned and written by SQL functions (migrations, domains/audit):
    // the ORM neither maps nor diffs it.
    schemaGenerator: { ignoreSchema: ['graphile_worker'], skipTables: [/^audit_/] },
    subscribers: [new TenantSessionSubscriber(settings.requestLockTimeoutMs)],
    // The global EntityManager is refused: every request works on its own fork.
    allowGlobalContext: false,
    forceUtcTimezone: true,
    colors: false,
    ensureDatabase: false,
    pool: {
      min: 0,
      max: settings.poolMax ?? 10,
      // A request's sibling fields share its transaction's connection: their queries take turns here.
      afterCreate: (connection: pg.Client, done: (error: Error | null, connection: pg.Client) => void) => {
        serialiseQueries(connection);
        done(null, connection);
      },
    },
    // MikroORM takes host, user and database from clientUrl but drops its query string, so
    // `sslmode=require` would silently connect in plain text: hand node-postgres the TLS
    // settings it would derive from the URL itself.
    driverOptions: { connection: { ssl: sslOptionsOf(settings.clientUrl) } },
    debug: settings.onQuery ? ['query'] : false,
    logger: settings.onQuery ? (message) => settings.onQuery?.(message) : (message) => settings.logger?.debug({ component: 'orm' }, message),
  };
}

/** What node-postgres makes of the URL's `sslmode` / `sslrootcert` (false: plain TCP). */
export function sslOptionsOf(url: string): ReturnType<typeof parseConnectionString>['ssl'] {
  return parseConnectionString(url).ssl ?? false;
}

export function openOrm(settings: OrmSettings): Promise<Orm> {
  return MikroORM.init<PostgreSqlDriver>(ormOptions(settings));
}
