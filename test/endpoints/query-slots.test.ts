/**
 * One tenant's concurrent queries hold at most half of the database pool (query-slots.ts;
 * attacker review stop45, F15): with a pool of 4, two of its searches run at once, sixteen
 * more wait in line, and one beyond that is refused at once with RATE_LIMITED QUERIES_IN_PROGRESS.
 * Another tenant is served meanwhile. The searches are made to stay in the database for
 * certain: the test holds a lock the keyword ranking needs until it has looked. An operation
 * asking queryEndpoint beside fields that need the operation’s transaction is refused: it would
 * hold that transaction’s connection while waiting for the share. A query whose client hangs up
 * while it waits, or over graphql-ws completes the operation, leaves the line at once
 * (sluice_queries_waiting shows the line).
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, queryEndpoint, type EndpointSetup } from '../support/endpoints.js';
import { createDataset, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { untilLockWaiters } from '../support/locks.js';
import { auditEventsOf } from '../support/audit.js';
import { scrape, value } from '../support/metrics.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: Tenant;
let setup: EndpointSetup;
beforeAll(async () => {
  // A search may wait a minute: nothing here is cut short by the time limit.
  server = await startTestServer({ env: { SLUICE_DATABASE_POOL_SIZE: '4', SLUICE_SEARCH_TIMEOUT_MS: '60000' } });
  owner = await tenantWithOwner(server);
  setup = await endpointOver(server, owner.token, [{ title: 'Lamps', text: 'The keeper trims the lamp wick at dusk.' }]);
});
afterAll(async () => {
  await server?.close();
});

/** Endpoint queries waiting in line for their pool share now (the server's gauge). */
const waiting = async () => value(await scrape(server), 'sluice_queries_waiting');
const untilWaiting = (count: number) => pollUntil(waiting, (n) => n === count, { failure: (n) => `${n} queries waiting, not ${count}` });

/** Holds a lock the keyword ranking needs: searches stay in the database until `release`. */
async function holdSearches(): Promise<{ pid: number; release: () => Promise<void> }> {
  const blocker = new pg.Client({ connectionString: server.database.ownerUrl });
  await blocker.connect();
  await blocker.query('begin');
  await blocker.query('lock table dataset_terms in access exclusive mode');
  const pid = (await blocker.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  return {
    pid,
    release: async () => {
      await blocker.query('rollback');
      await blocker.end();
    },
  };
}

it('runs two of a tenant’s queries at once on a pool of four, queues sixteen, refuses the next, and serves another tenant meanwhile', async () => {
  const other = await tenantWithOwner(server);
  const otherDataset = await createDataset(server, other.token);
  const searches = await holdSearches();
  const settled: unknown[] = [];
  let queries: Promise<any>[] = [];
  try {
    const blockerPid = searches.pid;
    queries = Array.from({ length: 19 }, () =>
      queryEndpoint(server, owner.token, setup.reference, 'keeper lamp', undefined, 'passages { documentTitle }').then((body) => {
        settled.push(body);
        return body;
      }),
    );
    await untilLockWaiters(server, { blockedBy: blockerPid }, 2, 'searches');
    const [refused] = await pollUntil(async () => settled, (bodies) => bodies.length >= 1, { failure: () => 'no query was refused' });
    expect((refused as any).errors[0]).toMatchObject({
      message: 'Too many queries of your tenant are being searched at once: retry in a second',
      extensions: { code: 'RATE_LIMITED', reason: 'QUERIES_IN_PROGRESS', retryAfterSeconds: 1 },
    });
    // Two connections are the tenant's; the others still serve everyone else.
    const elsewhere = await server.graphql('query($id: ID!) { dataset(id: $id) { id } }', { token: other.token, variables: { id: otherDataset.id } });
    expect(elsewhere.body).toEqual({ data: { dataset: { id: otherDataset.id } } });
    expect(settled).toHaveLength(1);
    await untilLockWaiters(server, { blockedBy: blockerPid }, 2, 'searches');
  } finally {
    await searches.release();
  }
  const answered = (await Promise.all(queries)).filter((body) => !body.errors);
  expect(answered).toHaveLength(18);
  for (const body of answered) expect(body.data.queryEndpoint.passages).toEqual([{ documentTitle: 'Lamps' }]);
});

it('takes a query whose client went away (HTTP, a WebSocket closed, or one operation completed) out of the line at once: abandoned requests cannot fill it', async () => {
  const ask = (signal?: AbortSignal) =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: 'query($e: String!) { queryEndpoint(endpoint: $e, query: "keeper lamp") { passages { documentTitle } } }', variables: { e: setup.reference } }),
      signal,
    }).then((response) => response.json() as Promise<any>);
  const searches = await holdSearches();
  let kept: Promise<any>[] = [];
  try {
    const blockerPid = searches.pid;
    // Two run (held by the lock), sixteen fill the tenant's line; then all sixteen clients hang up.
    const running = [ask(), ask()];
    await untilLockWaiters(server, { blockedBy: blockerPid }, 2, 'searches');
    const gone = new AbortController();
    const abandoned = Array.from({ length: 16 }, () => ask(gone.signal).catch((error: Error) => error.name));
    await untilWaiting(16);
    gone.abort();
    expect(await Promise.all(abandoned)).toEqual(Array(16).fill('AbortError'));
    await untilWaiting(0);
    // The same over graphql-ws: sixteen operations on one socket, and the socket closes.
    const socket = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${owner.token}` } });
    for (let i = 0; i < 16; i++) {
      socket.subscribe({ query: 'query($e: String!) { queryEndpoint(endpoint: $e, query: "keeper lamp") { passages { documentTitle } } }', variables: { e: setup.reference } }, { next: () => {}, error: () => {}, complete: () => {} });
    }
    await untilWaiting(16);
    await socket.dispose();
    await untilWaiting(0);
    // And sixteen operations the client completes one by one, its socket staying open.
    const staying = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${owner.token}` } });
    const unsubscribes = Array.from({ length: 16 }, () =>
      staying.subscribe({ query: 'query($e: String!) { queryEndpoint(endpoint: $e, query: "keeper lamp") { passages { documentTitle } } }', variables: { e: setup.reference } }, { next: () => {}, error: () => {}, complete: () => {} }),
    );
    await untilWaiting(16);
    for (const unsubscribe of unsubscribes) unsubscribe();
    await untilWaiting(0);
    await staying.dispose();
    // Sixteen new queries find the line free: none is refused.
    kept = [...running, ...Array.from({ length: 16 }, () => ask())];
    await untilWaiting(16);
  } finally {
    await searches.release();
  }
  const bodies = await Promise.all(kept);
  expect(bodies.filter((body) => body.errors)).toEqual([]);
  expect(bodies.map((body) => body.data.queryEndpoint.passages)).toEqual(Array(18).fill([{ documentTitle: 'Lamps' }]));
  // The audit trail records the forty-eight abandoned queries as CANCELLED, not as refused.
  const cancelled = await auditEventsOf(server, owner.token, 48, { action: 'graphql.query', outcome: 'CANCELLED' });
  expect(cancelled).toHaveLength(48);
});

/** A client's text frame, masked with a zero key (the protocol allows it): several can go out in one write. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length < 126 ? [0x80 | payload.length] : [0x80 | 126, payload.length >> 8, payload.length & 0xff];
  return Buffer.concat([Buffer.from([0x81, ...length]), Buffer.alloc(4), payload]);
}

it('keeps a query under a reused graphql-ws id cancellable: the end of the one completed before does not forget it', async () => {
  const cancelledSoFar = (await auditEventsOf(server, owner.token, 0, { action: 'graphql.query', outcome: 'CANCELLED' })).length;
  const searches = await holdSearches();
  let running: Promise<unknown>[] = [];
  try {
    const blockerPid = searches.pid;
    running = [0, 1].map(() => queryEndpoint(server, owner.token, setup.reference, 'keeper lamp'));
    await untilLockWaiters(server, { blockedBy: blockerPid }, 2, 'searches');
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
    await once(socket, 'open');
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${owner.token}` } }));
    await once(socket, 'message');
    const subscribe = JSON.stringify({
      id: '1',
      type: 'subscribe',
      payload: { query: 'query($e: String!) { queryEndpoint(endpoint: $e, query: "keeper lamp") { passages { documentTitle } } }', variables: { e: setup.reference } },
    });
    socket.send(subscribe);
    await untilWaiting(1);
    // The client completes operation 1 and reuses its id at once, both in one packet: the new
    // query is in line before the first one's end is handled.
    // Its complete is written with a JSON escape, which graphql-ws reads as any other.
    const complete = '{"id":"1","type":"\\u0063omplete"}';
    (socket as unknown as { _socket: Socket })._socket.write(Buffer.concat([clientFrame(complete), clientFrame(subscribe)]));
    await auditEventsOf(server, owner.token, cancelledSoFar + 1, { action: 'graphql.query', outcome: 'CANCELLED' });
    await untilWaiting(1);
    // Closing the socket takes the second query out of the line too.
    socket.close();
    await untilWaiting(0);
  } finally {
    await searches.release();
  }
  await Promise.all(running);
  expect(await auditEventsOf(server, owner.token, cancelledSoFar + 2, { action: 'graphql.query', outcome: 'CANCELLED' })).toHaveLength(cancelledSoFar + 2);
});

it('refuses queryEndpoint beside fields that need the operation’s own transaction, running none of them', async () => {
  const refused = await server.graphql(
    'query($e: String!) { datasets(first: 1) { edges { node { id } } } queryEndpoint(endpoint: $e, query: "lamp") { passages { documentTitle } } }',
    { token: owner.token, variables: { e: setup.reference } },
  );
  expect(refused.body.data ?? null).toBeNull();
  expect(refused.body.errors).toEqual([
    expect.objectContaining({
      message: 'queryEndpoint must be asked in an operation of its own, without datasets: send those in another request',
      extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', reason: 'OWN_OPERATION', fields: ['queryEndpoint'] }),
    }),
  ]);
  // __typename needs no transaction: beside it, and beside another queryEndpoint, it is answered.
  const alone = await server.graphql(
    'query($e: String!) { __typename a: queryEndpoint(endpoint: $e, query: "lamp") { passages { documentTitle } } b: queryEndpoint(endpoint: $e, query: "wick") { passages { documentTitle } } }',
    { token: owner.token, variables: { e: setup.reference } },
  );
  expect(alone.body).toEqual({ data: { __typename: 'Query', a: { passages: [{ documentTitle: 'Lamps' }] }, b: { passages: [{ documentTitle: 'Lamps' }] } } });
});
