/**
 * Sluice past one process: two API processes and two workers against one PostgreSQL and one
 * Redis. A session opened on one API is refreshed and used on the other; a per-principal
 * rate limit is one budget across both APIs (Redis); ingestion jobs started through either
 * API are run by the workers, each exactly once, with exactly the chunks they should have.
 * (Progress seen across processes: test/ingestion/multi-instance.test.ts.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { logIn, refresh, signUp } from '../support/identity.js';
import { createDataset, ingestInline, settled } from '../support/ingestion.js';
import { serve, sluiceEnv, spawnSluice, stop, type SluiceProcess } from '../support/process.js';
import { startTestRedis, type TestRedis } from '../support/redis.js';
import { sameDatabaseAt, startTestServer, type TestServer } from '../support/server.js';

let redis: TestRedis | undefined;
let seedServer: TestServer;
const processes: SluiceProcess[] = [];
let apiA: TestServer;
let apiB: TestServer;

beforeAll(async () => {
  redis = await startTestRedis();
  if (!redis) throw new Error('No Redis: set REDIS_URL or install redis-server (.ci/run makes sure one exists)');
  seedServer = await startTestServer({ worker: false });
  const env = sluiceEnv(seedServer.database, {
    REDIS_URL: redis.url,
    SLUICE_WORKER: 'off',
    // One small budget per principal, so a shared limit shows within a few requests.
    SLUICE_RATE_LIMITS: 'on',
    SLUICE_RATE_LIMIT_PER_SECOND: '0.5',
    SLUICE_RATE_LIMIT_BURST: '6',
    // Not what this file tests, and with rate limits on it is 5 an hour per address, in the Redis
    // this file shares with the machine: kept across runs, three CI runs within the hour on one
    // machine used it up (the third's signUp: RATE_LIMITED SIGN_UP_LIMIT).
    SLUICE_SIGNUP_LIMIT_PER_IP: '10000/1h',
  });
  const [a, b] = await Promise.all([serve(env), serve(env)]);
  const workers = [spawnSluice(['worker'], { ...env, LOG_LEVEL: 'info' }), spawnSluice(['worker'], { ...env, LOG_LEVEL: 'info' })];
  processes.push(a, b, ...workers);
  await Promise.all(workers.map((worker) => worker.waitForLog((line) => line.msg === 'job worker started')));
  apiA = sameDatabaseAt(seedServer, a.baseUrl);
  apiB = sameDatabaseAt(seedServer, b.baseUrl);
}, 60_000);
afterAll(async () => {
  await Promise.all(processes.map((proc) => stop(proc)));
  await seedServer?.close();
  await redis?.stop();
});

it('carries sessions, one rate limit, and exactly-once jobs across processes', async () => {
  // Sessions: signed up on A, refreshed on B, the new token used on A again.
  const account = await signUp(apiA);
  const refreshed = await refresh(apiB, account.refreshToken);
  expect(refreshed.body.errors).toBeUndefined();
  const token = refreshed.body.data.refreshSession.accessToken as string;
  expect((await apiA.graphql('{ viewer { kind } }', { token })).body.data.viewer.kind).toBe('USER');
  expect((await logIn(apiB, { email: account.email, password: account.password })).body.errors).toBeUndefined();

  // Jobs: two datasets' ingestions, started through different APIs, run by the two workers.
  const tokenA = (await logIn(apiA, { email: account.email, password: account.password })).body.data.logIn.accessToken as string;
  const datasets = [await createDataset(apiA, tokenA), await createDataset(apiA, tokenA)];
  const documents = (prefix: string) => Array.from({ length: 12 }, (_, i) => ({ title: `${prefix}-${i}`, text: `Sentence ${i} of ${prefix}. `.repeat(300) }));
  const started = [
    (await ingestInline(apiA, tokenA, datasets[0]!.id, documents('a'))).body.data.ingestDocuments.id as string,
    (await ingestInline(apiB, tokenA, datasets[1]!.id, documents('b'))).body.data.ingestDocuments.id as string,
  ];
  // Watched through the in-process server (same database, no rate limit) so polling spends
  // none of this principal's small budget.
  const jobs = await Promise.all(started.map((id) => settled(seedServer, tokenA, id, 60_000)));
  expect(jobs.map((job) => [job.stage, job.attempts, job.progress.documentsDone])).toEqual([
    ['COMPLETED', 1, 12],
    ['COMPLETED', 1, 12],
  ]);
  const chunks = await withClient(seedServer.database.ownerUrl, async (client) => {
    const { rows } = await client.query(
      `select d.id, d.chunk_count, (select count(*)::int from chunks c where c.dataset_id = d.id) as rows from datasets d where d.slug = any($1)`,
      [datasets.map((dataset) => dataset.slug)],
    );
    return rows;
  });
  expect(chunks).toHaveLength(2);
  for (const row of chunks) expect(row.rows).toBe(Number(row.chunk_count));

  // One rate limit across both APIs: a fresh principal's burst of 6, spent alternately on A and B.
  const fresh = await signUp(apiB);
  const outcomes: number[] = [];
  for (let i = 0; i < 10; i += 1) outcomes.push((await (i % 2 ? apiB : apiA).graphql('{ viewer { kind } }', { token: fresh.accessToken })).status);
  expect(outcomes.filter((status) => status === 200).length).toBeLessThanOrEqual(7);
  expect(outcomes.filter((status) => status === 429).length).toBeGreaterThanOrEqual(3);
  // Each API alone would have let all five of its requests through.
}, 120_000);
