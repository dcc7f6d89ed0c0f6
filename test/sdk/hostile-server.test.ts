/**
 * The SDK bounds what it takes from a server: a server that sends without end filled the
 * client's memory (an answer read whole by response.json(); an SSE line buffered whole by the
 * event parser), and one that never answered held the call for as long as fetch waits. Each
 * misbehaviour comes from a small hostile HTTP server of the test's own (node:http,
 * test/support/hostile-server.ts), since the real server does not misbehave; that the bounds
 * leave ordinary use alone is checked against the real server.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, DEFAULT_MAX_RESPONSE_BYTES, HeartbeatDocument, SluiceError, ViewerDocument } from '../../src/sdk/index.js';
import { endlessEvent, endlessJson, silence, startHostileServer, type HostileServer } from '../support/hostile-server.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
let hostile: HostileServer | undefined;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
  owner = await signUp(server);
});
afterEach(() => hostile?.close());
afterAll(() => server?.close());

/** What `work` threw (undefined if it did not). */
function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
}

function expectNetworkError(thrown: unknown, details: Record<string, unknown>, message: string): void {
  expect(thrown).toBeInstanceOf(SluiceError);
  const { code, message: said, requestId } = thrown as SluiceError;
  expect({ code, details: (thrown as SluiceError).details, message: said }).toEqual({ code: 'NETWORK_ERROR', details, message });
  expect(requestId).toMatch(/^[0-9a-f]{32}$/);
}

const firstResult = (iterator: AsyncIterableIterator<unknown>) => failure(async () => void (await iterator.next()));

it('refuses an answer that never ends past 16 MiB, and hangs up', async () => {
  hostile = await startHostileServer(endlessJson);
  const sluice = createClient({ url: hostile.url, apiKey: 'slk_whatever' });
  expectNetworkError(
    await failure(() => sluice.query(ViewerDocument)),
    { reason: 'TOO_LARGE', maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES },
    `${hostile.url} sent an answer larger than 16777216 bytes (maxResponseBytes): the rest was not read`,
  );
  await hostile.hungUp();
});

it('refuses an answer whose declared length is past maxResponseBytes without reading it', async () => {
  // The body never comes: reading it would wait for ever.
  hostile = await startHostileServer((response) => response.writeHead(200, { 'content-type': 'application/json', 'content-length': '2048' }).flushHeaders());
  const sluice = createClient({ url: hostile.url, maxResponseBytes: 1024 });
  expectNetworkError(
    await failure(() => sluice.query(ViewerDocument)),
    { reason: 'TOO_LARGE', maxResponseBytes: 1024 },
    `${hostile.url} sent an answer larger than 1024 bytes (maxResponseBytes): the rest was not read`,
  );
});

it('refuses a Server-Sent Event whose line never ends, and hangs up', async () => {
  hostile = await startHostileServer(endlessEvent);
  const sluice = createClient({ url: hostile.url, apiKey: 'slk_whatever', subscriptionTransport: 'sse' });
  expectNetworkError(
    await firstResult(sluice.subscribe(HeartbeatDocument, { intervalSeconds: 1 })),
    { reason: 'TOO_LARGE', maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES },
    `${hostile.url} sent an event larger than 16777216 characters (maxResponseBytes): the rest was not read`,
  );
  await hostile.hungUp();
});

it('gives up on a server that never answers after timeoutMs, a request and a subscription alike', async () => {
  hostile = await startHostileServer(silence);
  const sluice = createClient({ url: hostile.url, timeoutMs: 200, subscriptionTransport: 'sse' });
  const said = `${hostile.url} did not answer within 200 ms`;
  expectNetworkError(await failure(() => sluice.query(ViewerDocument)), { reason: 'TIMEOUT', timeoutMs: 200 }, said);
  expectNetworkError(await firstResult(sluice.subscribe(HeartbeatDocument, { intervalSeconds: 1 })), { reason: 'TIMEOUT', timeoutMs: 200 }, said);
  await hostile.hungUp();
});

it('gives up on an answer that trickles past timeoutMs', async () => {
  // The headers at once, then the body a byte at a time, each as the previous one is read: never done.
  hostile = await startHostileServer((response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    let open = true;
    response.on('close', () => (open = false));
    const drip = () => open && response.write(' ', () => setImmediate(drip));
    response.write('{"data":', () => drip());
  });
  const sluice = createClient({ url: hostile.url, timeoutMs: 200 });
  expectNetworkError(await failure(() => sluice.query(ViewerDocument)), { reason: 'TIMEOUT', timeoutMs: 200 }, `${hostile.url} did not answer within 200 ms`);
  await hostile.hungUp();
});

it('refuses a timeoutMs no timer can hold', () => {
  // Past 2^31 - 1 ms Node fires the timer at once (every request "did not answer") or throws.
  for (const timeoutMs of [2_147_483_648, -1, Number.NaN]) expect(() => createClient({ url: server.url, timeoutMs })).toThrow(RangeError);
  expect(() => createClient({ url: server.url, timeoutMs: 2_147_483_647 })).not.toThrow();
});

it('leaves the real server alone: queries, and streams that outlive timeoutMs once open', async () => {
  for (const subscriptionTransport of ['sse', 'ws'] as const) {
    const sluice = createClient({
      url: server.url,
      token: owner.accessToken,
      timeoutMs: 3_000,
      subscriptionTransport,
      webSocketImpl: WebSocket,
    });
    const { viewer } = await sluice.query(ViewerDocument);
    expect(viewer.user?.email).toBe(owner.email);
    // Two beats 4 s apart: the second comes after the 3 s that opening the stream had (3 s, not
    // less: the real server answers a loaded machine's query in well under that).
    const beats: number[] = [];
    for await (const { heartbeat } of sluice.subscribe(HeartbeatDocument, { intervalSeconds: 4, count: 2 })) beats.push(heartbeat.sequence);
    expect({ subscriptionTransport, beats }).toEqual({ subscriptionTransport, beats: [1, 2] });
    await sluice.close();
  }
});
