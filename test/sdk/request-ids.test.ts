/**
 * Every SluiceError names its request (issue 22, item 5: SSE errors carried `requestId: null`).
 * The SDK gives each request an id the server adopts, so the id on the error is the one in
 * the server's request log line (HTTP, SSE) or audit event (WebSocket), against the real server.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, IngestionProgressDocument, SluiceError, UpdateDatasetDocument, ViewerDocument } from '../../src/sdk/index.js';
import { auditEventsOf } from '../support/audit.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
  owner = await signUp(server);
});
afterAll(() => server?.close());

const NO_JOB = Buffer.from('IngestionJob:00000000-0000-4000-8000-000000000000').toString('base64');

async function failure(work: () => Promise<unknown>): Promise<SluiceError> {
  const error = await work().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

async function firstOf(iterator: AsyncIterableIterator<unknown>): Promise<void> {
  for await (const _ of iterator) break;
}

/** The server's request log line for `requestId`, once written. */
const logLineOf = (requestId: string) => server.logs.find((line) => line.requestId === requestId && line.status !== undefined);

it('names the request on an HTTP error, as the server logged it', async () => {
  const sluice = createClient({ url: server.url, token: owner.accessToken });
  const error = await failure(() => sluice.mutate(UpdateDatasetDocument, { id: 'nope', input: { name: 'x' } }));
  expect(error.requestId).toMatch(/^[0-9a-f]{32}$/);
  expect(logLineOf(error.requestId!)).toMatchObject({ requestId: error.requestId });
});

it('names the request on a subscription error over Server-Sent Events', async () => {
  const sluice = createClient({ url: server.url, token: owner.accessToken, subscriptionTransport: 'sse' });
  const error = await failure(() => firstOf(sluice.subscribe(IngestionProgressDocument, { jobId: NO_JOB })));
  expect(error.code).toBe('NOT_FOUND');
  expect(error.requestId).toMatch(/^[0-9a-f]{32}$/);
  expect(logLineOf(error.requestId!)).toMatchObject({ requestId: error.requestId });
});

it('names the operation on a subscription error over graphql-ws, as the audit trail has it', async () => {
  const sluice = createClient({ url: server.url, token: owner.accessToken, webSocketImpl: WebSocket });
  try {
    const error = await failure(() => firstOf(sluice.subscribe(IngestionProgressDocument, { jobId: NO_JOB })));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.requestId).toMatch(/^[0-9a-f]{32}$/);
    const events = await auditEventsOf(server, owner.accessToken, 1, { action: 'graphql.subscription' }, 10_000, (event) => event.requestId === error.requestId);
    expect(events.filter((event) => event.requestId === error.requestId)).toHaveLength(1);
  } finally {
    await sluice.close();
  }
});

it('names the request when the server cannot be reached', async () => {
  const sluice = createClient({ url: 'http://127.0.0.1:9/graphql' });
  const error = await failure(() => sluice.query(ViewerDocument));
  expect([error.code, typeof error.requestId]).toEqual(['NETWORK_ERROR', 'string']);
  const streamed = await failure(() => firstOf(createClient({ url: 'http://127.0.0.1:9/graphql', subscriptionTransport: 'sse' }).subscribe(IngestionProgressDocument, { jobId: NO_JOB })));
  expect([streamed.code, typeof streamed.requestId]).toEqual(['NETWORK_ERROR', 'string']);
});
