/**
 * PostgreSQL going away while Sluice serves, and coming back: requests fail cleanly during
 * the outage (a coded error, /readyz 503, no crash, no hang) and succeed again within
 * seconds, without restarting Sluice. The outage is made by a TCP proxy between the API and
 * PostgreSQL (test/support/tcp-proxy.ts) that severs every connection and refuses new ones, as
 * a restarting server does; the database itself is the real one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { pollUntil } from '../support/poll.js';
import { seedTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

let database: TestDatabase;
let proxy: TcpProxy;
let server: TestServer;
let token: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const target = new URL(database.appUrl);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  // The API's connections go through the proxy; the worker's queue (owner URL) does not.
  server = await startTestServer({ database: { ...database, appUrl: proxy.through(database.appUrl) }, worker: false });
  const tenant = await seedTenant(database.ownerUrl);
  token = await server.tokenFor(tenant, tenant.users[0]!);
});
afterAll(async () => {
  await server?.close();
  await proxy?.close();
  await database?.drop();
});

const ask = () => server.graphql('{ viewer { kind tenant { slug } } }', { token });
const ready = async () => (await fetch(`${server.baseUrl}/readyz`)).status;
/** Readiness is one answer shared for a second (db/readiness.ts): a change shows within it. */
const readyBecomes = (status: number) => pollUntil(ready, (seen) => seen === status, { failure: (seen) => `/readyz still ${seen}, not ${status}` });

it('fails cleanly while PostgreSQL is away and recovers by itself when it is back', async () => {
  expect((await ask()).body.data.viewer.kind).toBe('USER');
  expect(await ready()).toBe(200);

  await proxy.outage();
  const started = Date.now();
  const during = await ask();
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(during.body.data?.viewer ?? null).toBeNull();
  // A lost connection is a failure that passes: UNAVAILABLE, to be sent again (platform/errors/transient.ts).
  expect(during.body.errors[0].extensions).toMatchObject({ code: 'UNAVAILABLE', reason: 'CONNECTION_LOST', retryAfterSeconds: 1 });
  expect(during.body.errors[0].extensions.requestId).toEqual(expect.any(String));
  expect(await readyBecomes(503)).toBe(503);

  await proxy.restore();
  const deadline = Date.now() + 15_000;
  let after = await ask();
  while (after.body.errors && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    after = await ask();
  }
  expect(after.body.errors).toBeUndefined();
  expect(after.body.data.viewer.kind).toBe('USER');
  expect(await readyBecomes(200)).toBe(200);
  // The same server all along: nothing restarted it.
  expect(server.logs.some((line) => line.level >= 60)).toBe(false);
}, 60_000);
