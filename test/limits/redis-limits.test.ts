/**
 * Shared limits with a real Redis: two API servers, each with its own limiter, share one
 * principal's bucket; with Redis stopped they keep serving and limit on their own (no 500, no
 * wait); with Redis back they share again. Redis is this test's own (it is stopped and paused
 * here), with a password that must never reach a log line.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketKey, principalOf } from '../../src/platform/rate-limits/bucket-keys.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { ownRedis, redisServerAvailable, type OwnRedis } from './own-redis.js';

const PASSWORD = 'redis-password-that-must-not-be-logged';
const VIEWER = '{ viewer { kind } }';
// The rate limiter's own messages (the event bus says the like of itself).
const UNREACHABLE = /Redis is unreachable: rate limits/;
const BACK = /Redis is reachable again: rate limits/;

describe.skipIf(!redisServerAvailable)('rate limits in Redis (needs redis-server)', () => {
  let redis: OwnRedis;
  let database: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  let tenant: SeededTenant;

  beforeAll(async () => {
    redis = await ownRedis({ password: PASSWORD });
    database = await createTestDatabase();
    const env = {
      REDIS_URL: redis.url,
      SLUICE_RATE_LIMITS: 'on',
      // 4 at once, then one per 100 s: nothing refills during the test.
      SLUICE_RATE_LIMIT_PER_SECOND: '0.01',
      SLUICE_RATE_LIMIT_BURST: '4',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_IP_RATE_LIMIT_BURST: '1000',
    };
    a = await startTestServer({ database, env, worker: false });
    b = await startTestServer({ database, env, worker: false });
    tenant = await seedTenant(database.ownerUrl, { members: ['OWNER', 'MEMBER', 'MEMBER', 'MEMBER', 'MEMBER', 'MEMBER'].map((role) => ({ role: role as 'OWNER' })) });
  });
  afterAll(async () => {
    redis?.resume();
    // Running, so the servers' clients can quit cleanly.
    await redis?.start();
    await a?.close();
    await b?.close();
    await redis?.stop();
    await database?.drop();
  });

  /** Sends one viewer query as user `index` to `server`: status and how long it took. */
  async function ask(server: TestServer, index: number): Promise<{ status: number; ms: number; kind?: string }> {
    const token = await server.tokenFor(tenant, tenant.users[index]!);
    const started = performance.now();
    const { status, body } = await server.graphql(VIEWER, { token });
    return { status, ms: performance.now() - started, kind: body.data?.viewer?.kind };
  }
  const statuses = async (sends: [TestServer, number][]) => {
    const seen = [];
    for (const [server, index] of sends) seen.push((await ask(server, index)).status);
    return seen;
  };
  const logged = (server: TestServer, pattern: RegExp) => server.logs.filter((line) => pattern.test(String(line.msg)));

  it('shares one bucket between two servers', async () => {
    expect(await statuses([[a, 1], [b, 1], [a, 1], [b, 1], [a, 1], [b, 1]])).toEqual([200, 200, 200, 200, 429, 429]);
    const token = await b.tokenFor(tenant, tenant.users[1]!);
    const refused = await b.graphql(VIEWER, { token });
    // One token per 100 s: less the refill since the last spent token (a busy machine takes seconds).
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeLessThanOrEqual(100);
    expect(retryAfter).toBeGreaterThan(80);
    expect(refused.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
    // The bucket sits under the master key's digest of its key, never under the plain hash,
    // which anyone could recompute from the tenant and user ids.
    const key = bucketKey('principal', principalOf({ kind: 'user', tenantId: tenant.id, userId: tenant.users[1]!.id })!);
    const digest = secretsOf(a).digest('rate-limit bucket', key).digest.slice(0, 32);
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('sluice:rl:principal:*');
      expect(keys).toContain(`sluice:rl:principal:${digest}`);
      expect(keys).not.toContain(`sluice:rl:${key}`);
    } finally {
      client.disconnect();
    }
  });

  it('keeps serving with in-process limits while Redis is down, and says so once', async () => {
    await redis.stop();
    // Each server now counts alone: 4 each for the user the shared bucket had refused.
    const results = [];
    for (const server of [a, b]) for (let i = 0; i < 5; i++) results.push(await ask(server, 1));
    expect(results.map((result) => result.status)).toEqual([200, 200, 200, 200, 429, 200, 200, 200, 200, 429]);
    expect(results.filter((result) => result.status === 200).map((result) => result.kind)).toEqual(Array(8).fill('USER'));
    // Refused or served, no request waited on the dead Redis.
    expect(Math.max(...results.map((result) => result.ms))).toBeLessThan(1_000);
    expect(logged(a, UNREACHABLE)).toHaveLength(1);
    expect(logged(a, UNREACHABLE)[0]!.level).toBe(40);
    expect(logged(b, UNREACHABLE)).toHaveLength(1);
  });

  it('shares again once Redis is back, and says so', async () => {
    await redis.start();
    // Any request after the reconnect tries Redis again; poll with another user until both have.
    const deadline = Date.now() + 15_000;
    while ((logged(a, BACK).length === 0 || logged(b, BACK).length === 0) && Date.now() < deadline) {
      await ask(a, 2);
      await ask(b, 2);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(logged(a, BACK)).toHaveLength(1);
    expect(logged(b, BACK)).toHaveLength(1);
    expect(await statuses([[a, 3], [b, 3], [a, 3], [b, 3], [a, 3], [b, 3]])).toEqual([200, 200, 200, 200, 429, 429]);
  });

  /** How many bucket scripts Redis has run (EVALSHA and EVAL, refused ones included). */
  async function bucketScriptsRun(): Promise<number> {
    const client = new Redis(redis.url);
    try {
      const stats = await client.info('commandstats');
      return [...stats.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    } finally {
      client.disconnect();
    }
  }

  it('answers within the command timeout when Redis stops answering without closing', async () => {
    const before = await bucketScriptsRun();
    redis.pause();
    try {
      const hung = await ask(a, 4);
      expect(hung.status).toBe(200);
      expect(hung.ms).toBeLessThan(1_000);
      // Judged in-process until the next probe: a further request sends Redis nothing to wait on.
      const next = await ask(a, 4);
      expect(next.status).toBe(200);
    } finally {
      redis.resume();
    }
    // Running again, Redis reads what was sent while it was paused: the first request's probe
    // only. (Counted, not timed: the next request's time said as much only on an idle machine.)
    expect((await bucketScriptsRun()) - before).toBe(1);
  });

  it('never logs the Redis password', () => {
    expect(JSON.stringify([...a.logs, ...b.logs])).not.toContain(PASSWORD);
  });
});
