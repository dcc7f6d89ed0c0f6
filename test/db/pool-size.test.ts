/**
 * SLUICE_DATABASE_POOL_SIZE: the app role's connections per process. Validated like every
 * setting; a pool of one still answers concurrent requests (they wait their turn, each in its
 * own transaction), so a small pool is slower, never wrong.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { parseConfig } from '../../src/config.js';
import { issuesOf } from '../support/config.js';
import { createDataset, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_DATABASE_POOL_SIZE: '1' }, worker: false });
});
afterAll(() => server?.close());

it('defaults to 10 and refuses what is not a size', () => {
  expect(parseConfig({}).database.poolSize).toBe(10);
  expect(parseConfig({ SLUICE_DATABASE_POOL_SIZE: '40' }).database.poolSize).toBe(40);
  expect(issuesOf({ SLUICE_DATABASE_POOL_SIZE: '0' })).toEqual(['SLUICE_DATABASE_POOL_SIZE: must be at least 1 (got "0")']);
  expect(issuesOf({ SLUICE_DATABASE_POOL_SIZE: 'ten' })).toEqual(['SLUICE_DATABASE_POOL_SIZE: must be a number (got "ten")']);
  expect(issuesOf({ SLUICE_DATABASE_POOL_SIZE: '501' })).toEqual(['SLUICE_DATABASE_POOL_SIZE: must be at most 500 (got "501")']);
});

it('serves concurrent requests through a pool of one, each seeing its own tenant', async () => {
  const pool = (server.orm.em.getConnection().getKnex().client as { pool: { max: number } }).pool;
  expect(pool.max).toBe(1);
  const tenants = await Promise.all([tenantWithOwner(server), tenantWithOwner(server), tenantWithOwner(server)]);
  await Promise.all(tenants.map((tenant, index) => createDataset(server, tenant.token, { slug: `pool-${index}` })));
  const pages = await Promise.all(
    [...tenants, ...tenants].map(async (tenant) => (await server.graphql('{ datasets { edges { node { slug } } } }', { token: tenant.token })).body.data.datasets.edges),
  );
  expect(pages.map((edges) => edges.map((edge: { node: { slug: string } }) => edge.node.slug))).toEqual([['pool-0'], ['pool-1'], ['pool-2'], ['pool-0'], ['pool-1'], ['pool-2']]);
});

it("takes a connection's concurrent queries in turn, in order, without node-postgres's deprecated queue", async () => {
  // A GraphQL operation's sibling fields query its transaction's one connection at once
  // (src/db/serial-queries.ts). pg 8.19 deprecated queueing them inside the client; pg 9 removes it.
  const client = server.orm.em.getConnection().getKnex().client as { acquireConnection(): Promise<RawConnection>; releaseConnection(connection: RawConnection): Promise<void> };
  const connection = await client.acquireConnection();
  try {
    const viaCallback = (sql: string) =>
      new Promise<unknown>((resolve, reject) => connection.query(sql, (error, result) => (error ? reject(error) : resolve(result?.rows[0]?.n))));
    const answers = [
      viaCallback('select 1 as n, pg_sleep(0.02)'),
      viaCallback('select 1 / 0 as n'),
      viaCallback('select 3 as n'),
      connection.query('select $1::int as n', [4]).then((result) => result?.rows[0]?.n),
      connection.query('select $1::int / 0 as n', [5]).then((result) => result?.rows[0]?.n),
      viaCallback('select 6 as n'),
    ];
    // node-postgres's own queue (the deprecated one) holds nothing: the calls wait in ours.
    expect(connection._queryQueue).toHaveLength(0);
    const settled = await Promise.allSettled(answers);
    expect(settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : outcome.reason.message))).toEqual([
      1,
      'division by zero',
      3,
      4,
      'division by zero',
      6,
    ]);
  } finally {
    await client.releaseConnection(connection);
  }
});

it('answers other requests while an audit export is read slowly: the export holds no connection between batches', async () => {
  const { tenant, token } = await tenantWithOwner(server);
  // 6 000 events of 2 KB: far more than the socket buffers hold, so the server waits on the
  // reader. Written straight through the trail's own append function (chained like any event).
  await withClient(server.database.ownerUrl, (client) =>
    client.query(
      `select append_audit_events(jsonb_agg(jsonb_build_object('tenantId', $1::text, 'personal', '{}'::jsonb,
         'payload', jsonb_build_object('id', gen_random_uuid(), 'at', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'action', 'test.bulk', 'outcome', 'ok', 'actorKind', 'SYSTEM', 'actorId', null, 'n', n, 'pad', repeat('x', 2000)))))
         from generate_series(1, 6000) as n`,
      [tenant.id],
    ),
  );
  const response = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl?action=test.bulk`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  // The export is mid-stream and unread; the pool's one connection still serves another request.
  const other = await server.graphql('{ datasets { edges { node { slug } } } }', { token });
  expect(other.status).toBe(200);
  expect(other.body.data.datasets.edges).toEqual([]);
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
  const numbers = text.trim().split('\n').map((line) => JSON.parse(line).payload.n);
  expect(numbers).toEqual(Array.from({ length: 6000 }, (_, index) => index + 1));
});

interface RawConnection {
  query(sql: string, callback: (error: Error | null, result?: { rows: { n: unknown }[] }) => void): void;
  query(sql: string, values: unknown[]): Promise<{ rows: { n: unknown }[] } | undefined>;
  _queryQueue: unknown[];
}
