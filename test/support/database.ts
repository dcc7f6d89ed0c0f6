/** A database of the test file's own, copied from the migrated template. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { appUrlFrom, withClient, withDatabase } from '../../src/db/bootstrap.js';

export interface TestDatabase {
  name: string;
  /** Superuser / owner: migrations and seeding (bypasses RLS). */
  ownerUrl: string;
  /** The restricted app role the API uses. */
  appUrl: string;
  /** The server's admin URL (for creating further databases). */
  adminUrl: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const { adminUrl, template, appPassword } = inject('database');
  // The template's pid suffix lets global teardown drop leftovers of this run only.
  const name = `sluice_test_${randomBytes(5).toString('hex')}_${template.split('_').at(-1)}`;
  await withClient(adminUrl, async (client) => {
    // CREATE DATABASE ... TEMPLATE fails if another copy of the template is in progress.
    await client.query(`select pg_advisory_lock(hashtext('sluice:test-template'))`);
    try {
      await client.query(`create database ${name} template ${template}`);
    } finally {
      await client.query(`select pg_advisory_unlock(hashtext('sluice:test-template'))`);
    }
  });
  const ownerUrl = withDatabase(adminUrl, name);
  return {
    name,
    ownerUrl,
    appUrl: appUrlFrom(ownerUrl, appPassword),
    adminUrl,
    drop: () => dropDatabase(adminUrl, name),
  };
}

/** An empty database (no migrations), for tests of start-up from nothing. */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const { adminUrl, template } = inject('database');
  const name = `sluice_test_empty_${randomBytes(5).toString('hex')}_${template.split('_').at(-1)}`;
  await withClient(adminUrl, (client) => client.query(`create database ${name}`));
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: () => dropDatabase(adminUrl, name),
  };
}

/**
 * Drops a test's database once the connections its pools are closing have gone (up to 2 s),
 * then by force. Forcing at once terminated connections that a pool was still ending
 * (graphile-worker's, after its error listener was removed), and the pool's 'error' event
 * then had no listener: an uncaught exception in whichever test file ran then.
 */
async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
      if (rows[0]!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client.query(`drop database if exists ${name} with (force)`);
  });
}
