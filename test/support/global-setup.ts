/**
 * Once per test run: a PostgreSQL server (DATABASE_URL's, or an embedded one in a temporary
 * directory) and a migrated template database. Each test file copies the template into a
 * database of its own (fast: CREATE DATABASE ... TEMPLATE), so files run in parallel without
 * sharing rows.
 */
import type { TestProject } from 'vitest/node';
import { compile, isCompiledFresh } from '../../scripts/compile.js';
import { APP_ROLE, ensureAppRole, withClient, withDatabase } from '../../src/db/bootstrap.js';
import { runMigrations } from '../../src/db/migrate.js';
import { DEFAULT_VECTOR_INDEX_DIMENSIONS } from '../../src/db/vector-index.js';
import { startScratchServer } from '../../src/db/scratch-server.js';
import { entities } from '../../src/domains/entities.js';
import { createLogger } from '../../src/platform/logging/logger.js';

export interface ProvidedDatabase {
  adminUrl: string;
  template: string;
  appPassword: string;
  kind: 'external' | 'embedded';
}

declare module 'vitest' {
  export interface ProvidedContext {
    database: ProvidedDatabase;
  }
}

/** Test-only password of the shared app role (the role is cluster-wide; tests run locally). */
const APP_PASSWORD = 'sluice-test-app-role';

export default async function setup(project: TestProject) {
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  // The `sluice` processes tests start run dist/ (support/process.ts): built from the sources as they are now.
  if (!isCompiledFresh()) await compile();
  const server = await startScratchServer({ logger, databaseUrl: process.env.DATABASE_URL || undefined });
  const template = `sluice_test_template_${process.pid}`;
  await withClient(server.adminUrl, async (client) => {
    await client.query(`drop database if exists ${template} with (force)`);
    await client.query(`create database ${template}`);
  });
  const ownerUrl = withDatabase(server.adminUrl, template);
  await ensureAppRole(ownerUrl, APP_PASSWORD);
  await runMigrations({ ownerUrl, entities, logger, vectorIndexDimensions: new Set(DEFAULT_VECTOR_INDEX_DIMENSIONS) });
  project.provide('database', { adminUrl: server.adminUrl, template, appPassword: APP_PASSWORD, kind: server.kind });
  logger.info({ role: APP_ROLE, template, kind: server.kind }, 'test database ready');

  return async () => {
    await withClient(server.adminUrl, async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        `select datname from pg_database where datname like 'sluice_test_%' and datname like $1`,
        [`%${process.pid}%`],
      );
      for (const { datname } of rows) await client.query(`drop database if exists ${datname} with (force)`);
      await client.query(`drop database if exists ${template} with (force)`);
    });
    await server.stop();
  };
}
