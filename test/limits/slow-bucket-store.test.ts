/**
 * A slow bucket store must not hold an endpoint. A refused endpoint query asks the refusal
 * log's flood limit whether its DENY row may be written, and that asks the bucket store (Redis,
 * with REDIS_URL). The ask was awaited inside the transaction that read the endpoint, and for
 * a policy's refusal under the endpoint's advisory lock: every query on the endpoint, on any
 * instance, queued behind a Redis that was slow to answer (up to its command timeout each), and
 * each held a pooled connection meanwhile. An anonymous caller's per-address bucket was taken in
 * that transaction too.
 *
 * Redis is this test's own, paused for writes (CLIENT PAUSE WRITE: a bucket take is a script):
 * while a refused query's take waits there (a client blocked on a script), the test looks at
 * PostgreSQL. Before the fix the endpoint's advisory lock was held, by a connection of the app
 * idle in its transaction.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { endpointOver } from '../support/endpoints.js';
import { createApiKey, signUp } from '../support/identity.js';
import { createPolicy } from '../support/policies.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';
import { ownRedis, redisServerAvailable, type OwnRedis } from './own-redis.js';

const ASK = 'query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }';
const DOCUMENTS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates at high tide.' }];

describe.skipIf(!redisServerAvailable)('a refused endpoint query while the bucket store is slow (needs redis-server)', () => {
  let redis: OwnRedis;
  let control: Redis;
  let database: TestDatabase;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    redis = await ownRedis({ password: 'slow-bucket-store' });
    control = new Redis(redis.url);
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await control?.client('UNPAUSE').catch(() => undefined);
    control?.disconnect();
    for (const server of servers) await server.close();
    await redis?.stop();
    await database?.drop();
  });

  /**
   * A server of its own for each test: after a take that timed out, its bucket store keeps to
   * memory for a while, and the next test's take must go to Redis. Request limits off: the only
   * buckets a query asks for are the refusal log's and the anonymous callers'.
   */
  async function server(): Promise<TestServer> {
    const started = await startTestServer({ database, env: { REDIS_URL: redis.url, SLUICE_RATE_LIMITS: 'off' } });
    servers.push(started);
    return started;
  }

  const ownerSql = <T = Record<string, any>>(sql: string, params: unknown[] = []) =>
    withClient(database.ownerUrl, (client) => client.query(sql, params)).then((result) => result.rows as T[]);

  /** Resolves once a client of Redis waits on a script (a bucket take) that the pause holds. */
  const takeWaiting = () =>
    pollUntil(
      async () => String(await control.client('LIST')),
      (clients) => clients.split('\n').some((line) => /\bflags=\S*b/.test(line) && /\bcmd=eval/.test(line)),
      { timeoutMs: 10_000, intervalMs: 2, failure: (clients) => `no bucket take waiting on Redis: ${clients}` },
    );

  /** What the app holds in PostgreSQL now: advisory locks on the endpoint, and its connections idle in a transaction. */
  async function held(endpointId: string) {
    const [locks] = await ownerSql<{ count: string }>(
      `select count(*) from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
          and ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
      [endpointId],
    );
    const [open] = await ownerSql<{ count: string }>(
      `select count(*) from pg_stat_activity where datname = current_database() and usename = $1 and state like 'idle in transaction%'`,
      [new URL(database.appUrl).username],
    );
    return { advisoryLocks: Number(locks!.count), idleInTransaction: Number(open!.count) };
  }

  /** Pauses Redis's writes while `ask` runs: once its take waits there, what the app holds; then its answer. */
  async function whileTakeWaits(endpointId: string, ask: () => Promise<{ body: any }>) {
    await control.client('PAUSE', 10_000, 'WRITE');
    try {
      const answer = ask();
      await takeWaiting();
      const holding = await held(endpointId);
      await control.client('UNPAUSE');
      return { holding, code: (await answer).body.errors?.[0]?.extensions?.code };
    } finally {
      await control.client('UNPAUSE');
    }
  }

  it("a policy's refusal holds neither the endpoint's lock nor a transaction while its flood limit asks Redis", async () => {
    const api = await server();
    const owner = await signUp(api, { tenantName: 'Slow bucket store' });
    const endpoint = await endpointOver(api, owner.accessToken, DOCUMENTS);
    await createPolicy(api, owner.accessToken, endpoint.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 3600, scope: 'per_user' });
    const key = (await createApiKey(api, owner.accessToken, { name: 'caller', scopes: ['READ'] })).body.data.createApiKey.secret as string;
    const ask = () => api.graphql(ASK, { headers: { 'x-api-key': key }, variables: { e: endpoint.reference } });
    expect((await ask()).body.errors).toBeUndefined();

    const refused = await whileTakeWaits(databaseIdOf(endpoint.endpointId), ask);
    expect(refused).toEqual({ holding: { advisoryLocks: 0, idleInTransaction: 0 }, code: 'RATE_LIMITED' });
    // Written all the same, once the take answered.
    const [row] = await ownerSql<{ count: string }>(`select count(*) from policy_decisions where endpoint_id = $1 and decision = 'DENY'`, [databaseIdOf(endpoint.endpointId)]);
    expect(Number(row!.count)).toBe(1);
  });

  it("an anonymous caller's refusal holds no transaction while its buckets are asked", async () => {
    const api = await server();
    const owner = await signUp(api, { tenantName: 'Slow bucket store, anonymous' });
    const endpoint = await endpointOver(api, owner.accessToken, DOCUMENTS, { published: true });
    const ask = () => api.graphql(ASK, { variables: { e: endpoint.reference } });

    const refused = await whileTakeWaits(databaseIdOf(endpoint.endpointId), ask);
    expect(refused).toEqual({ holding: { advisoryLocks: 0, idleInTransaction: 0 }, code: 'UNAUTHENTICATED' });
    const [row] = await ownerSql<{ count: string }>(`select count(*) from policy_decisions where endpoint_id = $1 and reason_code = 'ANONYMOUS_NOT_ALLOWED'`, [databaseIdOf(endpoint.endpointId)]);
    expect(Number(row!.count)).toBe(1);
  });
});
