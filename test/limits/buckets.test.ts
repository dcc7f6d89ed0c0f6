/**
 * The token buckets themselves: the in-process store on a clock the test moves, its bounded
 * memory, and the Redis script giving the same answers as the JavaScript (on a real Redis).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketKey } from '../../src/platform/rate-limits/bucket-keys.js';
import { MemoryBucketStore } from '../../src/platform/rate-limits/memory-buckets.js';
import { RedisBucketStore } from '../../src/platform/rate-limits/redis-buckets.js';
import type { BucketStore } from '../../src/platform/rate-limits/token-bucket.js';
import { startTestRedis, type TestRedis } from '../support/redis.js';

const RULE = { perSecond: 2, burst: 3 };

async function takes(store: BucketStore, key: string, n: number) {
  const results = [];
  for (let i = 0; i < n; i++) results.push(await store.take(key, RULE));
  return results;
}

describe('in-process buckets', () => {
  it('gives the burst, then one token per 1/perSecond, and says when the next one comes', async () => {
    let now = 1_000_000;
    const store = new MemoryBucketStore({ now: () => now });
    expect(await takes(store, 'k', 4)).toEqual([
      { allowed: true, remaining: 2, retryAfterMs: 0 },
      { allowed: true, remaining: 1, retryAfterMs: 0 },
      { allowed: true, remaining: 0, retryAfterMs: 0 },
      { allowed: false, remaining: 0, retryAfterMs: 500 },
    ]);
    now += 200;
    expect(await store.take('k', RULE)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 300 });
    now += 300;
    expect((await store.take('k', RULE)).allowed).toBe(true);
    // A long pause refills to the burst, not beyond.
    now += 60_000;
    expect((await takes(store, 'k', 4)).map((result) => result.allowed)).toEqual([true, true, true, false]);
    // Keys do not share.
    expect((await store.take('other', RULE)).remaining).toBe(2);
  });

  it('takes several tokens at once, all or none', async () => {
    const now = 1_000_000;
    const store = new MemoryBucketStore({ now: () => now });
    // 4 of a burst of 3: refused, and nothing is spent.
    expect(await store.take('k', RULE, 4)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 500 });
    expect(await store.take('k', RULE, 3)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(await store.take('k', RULE, 1)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 500 });
  });

  it('forgets full buckets and never holds more than maxKeys', async () => {
    let now = 0;
    const store = new MemoryBucketStore({ now: () => now, maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) await store.take(`caller-${i}`, RULE);
    expect(store.size).toBe(100);
    // Long after, every bucket is full again: the next sweep drops them all.
    now += 10_000;
    for (let i = 0; i < 1_024; i++) await store.take('busy', RULE);
    expect(store.size).toBe(1);
  });
});

describe('Redis buckets (needs redis-server or REDIS_URL)', () => {
  let redis: TestRedis | undefined;
  let client: Redis;
  beforeAll(async () => {
    redis = await startTestRedis();
    if (redis) client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('answers like the in-process buckets, atomically under parallel requests', async (context) => {
    if (!redis) return context.skip();
    // A prefix of this run's own: REDIS_URL may be a shared Redis.
    const store = new RedisBucketStore(client, (key) => `d(${key})`, `sluice-test:${randomBytes(6).toString('hex')}:`);
    const results = await takes(store, 'k', 4);
    expect(results.map((result) => [result.allowed, result.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(results[3]!.retryAfterMs).toBeGreaterThan(400);
    expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(500);
    // Several tokens at once, all or none, as in process.
    expect(await store.take('several', RULE, 4)).toMatchObject({ allowed: false, remaining: 0 });
    expect(await store.take('several', RULE, 3)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await store.take('several', RULE)).allowed).toBe(false);
    // 50 at once against a burst of 3: exactly 3 pass.
    const parallel = await Promise.all(Array.from({ length: 50 }, () => store.take('parallel', RULE)));
    expect(parallel.filter((result) => result.allowed)).toHaveLength(3);
    // The key expires once the bucket would be full again (burst / rate, plus a second).
    const ttl = await client.pttl(store.storedKey('parallel'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2_500);
  });

  it('keeps in Redis a keyed digest of each key, and the limit’s name in clear', async (context) => {
    if (!redis) return context.skip();
    const prefix = `sluice-test:${randomBytes(6).toString('hex')}:`;
    const secret = randomBytes(32);
    const hmac = (key: string) => createHmac('sha256', secret).update(key).digest('hex').slice(0, 32);
    const store = new RedisBucketStore(client, hmac, prefix);
    const key = bucketKey('login:ip', '203.0.113.7');
    await store.take(key, RULE);
    // Only the digest is there: the plain hash of an IPv4 address can be found by trying them all.
    expect(await client.keys(`${prefix}*`)).toEqual([`${prefix}login:ip:${hmac(key)}`]);
    expect(key.split(':').at(-1)).not.toBe(hmac(key));
    // The same digest from another process (the same master key) finds the same bucket.
    const again = await new RedisBucketStore(client, hmac, prefix).take(key, RULE);
    expect(again.remaining).toBe(RULE.burst - 2);
  });
});
