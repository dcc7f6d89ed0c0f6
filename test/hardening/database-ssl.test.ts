/**
 * Database TLS in production: the URLs must ask for it (`sslmode=`) unless SLUICE_DATABASE_SSL
 * says `disable`, `sluice serve` refuses to start otherwise (exit code 78), and the ORM really
 * uses what the URL asks for (MikroORM alone would drop the query string and connect in plain
 * text).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { issuesOf, STRONG_DATABASE_PASSWORD, STRONG_SECRETS } from '../support/config.js';
import { openOrm } from '../../src/db/orm.js';
import { entities } from '../../src/domains/entities.js';
import { createTestDatabase } from '../support/database.js';
import { spawnSluice } from '../support/process.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  JWT_SECRET: STRONG_SECRETS.JWT_SECRET,
  SLUICE_MASTER_KEY: STRONG_SECRETS.SLUICE_MASTER_KEY,
  DATABASE_URL: `postgres://owner:${STRONG_DATABASE_PASSWORD}@db.internal/sluice?sslmode=verify-full`,
  DATABASE_APP_URL: 'postgres://api@db.internal/sluice?sslmode=require',
};


describe('configuration', () => {
  it('accepts production URLs that ask for TLS', () => {
    expect(issuesOf(PRODUCTION)).toEqual([]);
    expect(parseConfig(PRODUCTION).hardening.databaseSsl).toBe('require');
  });

  it('refuses production URLs without sslmode, naming each, without echoing them', () => {
    const issues = issuesOf({ ...PRODUCTION, DATABASE_URL: `postgres://owner:${STRONG_DATABASE_PASSWORD}@db/sluice`, DATABASE_APP_URL: 'postgres://api@db/sluice?sslmode=disable' });
    expect(issues).toEqual([
      expect.stringMatching(/^DATABASE_URL: must ask for TLS in production: add \?sslmode=require .* or set SLUICE_DATABASE_SSL=disable$/),
      expect.stringMatching(/^DATABASE_APP_URL: must ask for TLS in production/),
    ]);
    expect(issues.join('\n')).not.toContain(STRONG_DATABASE_PASSWORD);
  });

  it('lets an operator opt out explicitly, and does not ask outside production', () => {
    expect(issuesOf({ ...PRODUCTION, DATABASE_URL: 'postgres://owner@db/sluice', SLUICE_DATABASE_SSL: 'disable' })).toEqual([]);
    expect(parseConfig({ DATABASE_URL: 'postgres://owner@db/sluice' }).hardening.databaseSsl).toBe('disable');
    expect(issuesOf({ SLUICE_DATABASE_SSL: 'maybe' })).toEqual([expect.stringMatching(/^SLUICE_DATABASE_SSL: must be require or disable/)]);
    // Outside production the check is on only when asked for.
    expect(issuesOf({ DATABASE_URL: 'postgres://owner@db/sluice', SLUICE_DATABASE_SSL: 'require' })).toEqual([expect.stringMatching(/^DATABASE_URL: must ask for TLS/)]);
  });

  it('stops `sluice serve` with exit code 78 before connecting anywhere', async () => {
    const proc = spawnSluice(['serve'], { ...PRODUCTION, DATABASE_URL: 'postgres://owner:pw-never-shown@127.0.0.1:1/sluice' });
    expect(await proc.exit).toBe(78);
    expect(proc.output()).toMatch(/DATABASE_URL: must ask for TLS in production/);
    expect(proc.output()).not.toContain('pw-never-shown');
  });
});

describe('the ORM connection', () => {
  it('uses TLS when the URL asks for it, and plain TCP when it does not', async () => {
    const database = await createTestDatabase();
    const query = async (url: string) => {
      const orm = await openOrm({ clientUrl: url, entities });
      try {
        return await orm.em.getConnection().execute('select 1 as one');
      } finally {
        await orm.close(true);
      }
    };
    try {
      expect(await query(database.appUrl)).toEqual([{ one: 1 }]);
      // The test server speaks no TLS (or has no certificate we trust): asking for it must fail.
      await expect(query(`${database.appUrl}?sslmode=require`)).rejects.toThrow(/SSL|certificate|self-signed|TLS/i);
    } finally {
      await database.drop();
    }
  });
});
