/**
 * Anonymous MCP callers behind one address (a NAT) are one principal, `anonymous:<ip>`: a call's
 * cancellation key was that, the session id the client sent (or none) and the JSON-RPC id, so
 * anyone there could cancel another's call by sending `notifications/cancelled {requestId: 7}`,
 * even through another endpoint's route. Now an anonymous caller's cancellation counts only under
 * a session id the server issued to its address at `initialize`, and only on the call's route.
 *
 * The model is a local stand-in (test/support/fake-openai.ts) speaking the real OpenAI
 * chat-completions protocol over real HTTP: no model server can be reached from the tests.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, must, uniqueSlug, usageOutcomes, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];

let server: TestServer;
let fake: FakeOpenAI;
/** An anonymous-allowed endpoint over the fake model, and another tenant's anonymous-allowed endpoint. */
let llm: EndpointSetup;
let elsewhere: EndpointSetup;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer();
  const [owner, other] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  llm = await endpointOver(server, owner.token, DOCS, { published: true, model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } } });
  elsewhere = await endpointOver(server, other.token, DOCS, { published: true });
  for (const [token, setup] of [[owner.token, llm], [other.token, elsewhere]] as const) {
    await must(server, token, 'mutation($id: ID!) { updateEndpoint(id: $id, input: { allowAnonymous: true }) { id } }', { id: setup.endpointId });
  }
}, 120_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** One JSON-RPC message to `/mcp/{reference}` with no credential, as an anonymous MCP client sends it. */
function rpc(setup: EndpointSetup, message: object, sessionId?: string): Promise<Response> {
  return fetch(new URL(`/mcp/${setup.reference}`, server.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...(sessionId ? { 'mcp-session-id': sessionId } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
}

/** `initialize`: the session id the server issued. */
async function initialize(setup: EndpointSetup): Promise<string> {
  const initialized = await rpc(setup, { id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'anonymous', version: '1' } } });
  expect(initialized.status).toBe(200);
  await initialized.text();
  return initialized.headers.get('mcp-session-id')!;
}

/** Sends a cancellation of `requestId`; the server answers a notification 202 whatever it did. */
async function cancel(setup: EndpointSetup, requestId: number, sessionId?: string): Promise<void> {
  const answer = await rpc(setup, { method: 'notifications/cancelled', params: { requestId, reason: 'not yours' } }, sessionId);
  expect(answer.status).toBe(202);
  await answer.text();
}

/** A slow ask (a piece every 100 ms), read until the model's first piece arrived as progress; `rest()` reads it to its end. */
async function callStreaming(id: number, sessionId?: string, pieces = 6) {
  fake.script({ deltas: Array.from({ length: pieces }, (_, index) => `Piece ${index}. `), delayMs: 100 });
  const model = fake.requests.length;
  const call = await rpc(llm, { id, method: 'tools/call', params: { name: `ask_${llm.reference.split('/')[1]}`, arguments: { query: 'lock' }, _meta: { progressToken: 'p' } } }, sessionId);
  const reader = call.body!.getReader();
  const decoder = new TextDecoder();
  let seen = '';
  while (!seen.includes('Piece 0.')) seen += decoder.decode((await reader.read()).value);
  return {
    model,
    async rest(): Promise<string> {
      for (let part = await reader.read(); !part.done; part = await reader.read()) seen += decoder.decode(part.value);
      return seen;
    },
  };
}

it('another anonymous caller at the same address cannot cancel a call, with no session id, a made-up one, or through another route', async () => {
  // A client that never initialized sends no session id; another at its address sends none either.
  const bare = await callStreaming(7);
  await cancel(llm, 7);
  await cancel(llm, 7, 'made-up-session');
  await cancel(llm, 7, `${crypto.randomUUID()}.${'0'.repeat(32)}`);
  expect(await bare.rest()).toContain('Piece 5.');
  await fake.requests[bare.model]!.closed;
  expect(fake.requests[bare.model]!.finished).toBe(true);

  // The owner of an issued session id cancels only on its call's route: sent through another
  // tenant's endpoint, the cancellation names nothing.
  const own = await initialize(llm);
  const stranger = await initialize(llm);
  expect(stranger).not.toBe(own);
  const call = await callStreaming(8, own);
  await cancel(llm, 8, stranger);
  await cancel(elsewhere, 8, own);
  const seen = await call.rest();
  expect(seen).toContain('Piece 5.');
  expect(seen).not.toContain('The call was cancelled');
});

it('an anonymous caller cancels its own call with the session id the server issued it', async () => {
  const recorded = (await usageOutcomes(server.database, llm.endpointId)).length;
  const sessionId = await initialize(llm);
  expect(sessionId).toMatch(/^[\x21-\x7e]+$/);
  // 100 pieces, 10 s: only the cancellation can end it early.
  const call = await callStreaming(9, sessionId, 100);
  await cancel(llm, 9, sessionId);
  expect(await call.rest()).toContain('The call was cancelled');
  await fake.requests[call.model]!.closed;
  expect(fake.requests[call.model]!.finished).toBe(false);
  expect((await usageOutcomes(server.database, llm.endpointId, recorded + 1)).slice(recorded)).toEqual(['CANCELLED']);
});
