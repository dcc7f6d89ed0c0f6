/**
 * An MCP client's cancellation reaches its tool call when another API process answers it. MCP
 * sends `notifications/cancelled` as a request of its own, and behind a load balancer that
 * request may land on any instance: two `sluice serve` processes share PostgreSQL and Redis, the
 * call runs on A, the cancellation is sent to B, and the model call on A stops.
 *
 * The model is a local stand-in (test/support/fake-openai.ts) speaking the real OpenAI
 * chat-completions protocol over real HTTP: no model server can be reached from the tests.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, uniqueSlug, usageOutcomes, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { serve, sluiceEnv, stop, type SluiceProcess } from '../support/process.js';
import { startTestRedis, type TestRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

let redis: TestRedis | undefined;
let fake: FakeOpenAI;
let seedServer: TestServer;
let owner: Tenant;
let llm: EndpointSetup;
const processes: (SluiceProcess & { baseUrl: string })[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  if (!redis) throw new Error('No Redis: set REDIS_URL or install redis-server (.ci/run makes sure one exists)');
  fake = await startFakeOpenAI();
  seedServer = await startTestServer();
  owner = await tenantWithOwner(seedServer);
  llm = await endpointOver(seedServer, owner.token, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }], {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
  });
  const env = sluiceEnv(seedServer.database, { REDIS_URL: redis.url, SLUICE_WORKER: 'off' });
  processes.push(...(await Promise.all([serve(env), serve(env)])));
}, 120_000);
afterAll(async () => {
  await Promise.all(processes.map((proc) => stop(proc)));
  await seedServer?.close();
  await fake?.close();
  await redis?.stop();
});

/** One JSON-RPC message to `/mcp/{tenant}/{endpoint}` on `baseUrl`, as an MCP client sends it. */
function rpc(baseUrl: string, message: object, sessionId?: string): Promise<Response> {
  return fetch(new URL(`/mcp/${llm.reference}`, baseUrl), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      authorization: `Bearer ${owner.token}`,
      ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
}

/** `initialize` on `baseUrl`: the session id the client echoes from then on. */
async function initialize(baseUrl: string): Promise<string> {
  const initialized = await rpc(baseUrl, { id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sluice-test', version: '1.0.0' } } });
  expect(initialized.status).toBe(200);
  await initialized.text();
  return initialized.headers.get('mcp-session-id')!;
}

/** A tool call on `baseUrl`, read until the model's first piece arrived as progress; `rest()` reads it to its end. */
async function callStreaming(baseUrl: string, id: number, sessionId: string) {
  const call = await rpc(baseUrl, { id, method: 'tools/call', params: { name: `ask_${llm.reference.split('/')[1]}`, arguments: { query: 'lock' }, _meta: { progressToken: 'p' } } }, sessionId);
  const reader = call.body!.getReader();
  const decoder = new TextDecoder();
  let seen = '';
  while (!seen.includes('Piece 0.')) seen += decoder.decode((await reader.read()).value);
  return {
    async rest(): Promise<string> {
      for (let part = await reader.read(); !part.done; part = await reader.read()) seen += decoder.decode(part.value);
      return seen;
    },
  };
}

it('a cancellation answered by another API process stops the call where it runs', async () => {
  const [a, b] = processes as [SluiceProcess & { baseUrl: string }, SluiceProcess & { baseUrl: string }];
  const sessionId = await initialize(a.baseUrl);
  expect(sessionId).toMatch(/\S/);

  // A piece every 100 ms for 10 s: only the cancellation can end it early.
  fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
  const before = fake.requests.length;
  const call = await callStreaming(a.baseUrl, 7, sessionId);

  // The cancellation goes to B, which does not run the call; what crosses Redis is read too.
  const listener = new Redis(redis!.url);
  const published: string[] = [];
  listener.on('pmessage', (_pattern, _channel, message) => published.push(message));
  await listener.psubscribe('*');
  const cancelled = await rpc(b.baseUrl, { method: 'notifications/cancelled', params: { requestId: 7, reason: 'changed my mind' } }, sessionId);
  expect(cancelled.status).toBe(202);

  await fake.requests[before]!.closed;
  expect(fake.requests[before]!.finished).toBe(false);
  // A answers the call as cancelled, long before the model's ten seconds are up.
  expect(await call.rest()).toContain('The call was cancelled');
  expect((await usageOutcomes(seedServer.database, llm.endpointId, 1)).at(-1)).toBe('CANCELLED');
  // The bus carried the cancellation under a keyed digest: not the caller's user, tenant or session.
  listener.disconnect();
  const message = published.find((text) => text.includes('the client cancelled the call'));
  expect(message).toBeDefined();
  for (const clear of [owner.tenant.users[0]!.id, owner.tenant.id, sessionId, 'user:']) expect(message).not.toContain(clear);
});

it('a cancellation under another caller’s credential, or of another session, leaves the call running', async () => {
  const [a, b] = processes as [SluiceProcess & { baseUrl: string }, SluiceProcess & { baseUrl: string }];
  const stranger = await tenantWithOwner(seedServer);
  const sessionId = await initialize(a.baseUrl);

  fake.script({ deltas: Array.from({ length: 6 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
  const before = fake.requests.length;
  const call = await callStreaming(a.baseUrl, 8, sessionId);

  // Another session of the same caller, then the same session id under a stranger's token: neither matches the call.
  expect((await rpc(b.baseUrl, { method: 'notifications/cancelled', params: { requestId: 8 } }, 'another-session')).status).toBe(202);
  const foreign = await fetch(new URL(`/mcp/${llm.reference}`, b.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${stranger.token}`, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 8 } }),
  });
  await foreign.text();

  const seen = await call.rest();
  await fake.requests[before]!.closed;
  expect(fake.requests[before]!.finished).toBe(true);
  expect(seen).toContain('Piece 5.');
  expect(seen).not.toContain('The call was cancelled');
});
