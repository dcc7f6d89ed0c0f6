/**
 * A stream on a consumer door answers to its credential as a GraphQL subscription does
 * (plugins/credential-watch.ts, through routes/consumer-door.ts): an API key revoked mid-answer
 * ends the REST event stream, the OpenAI-compatible `stream: true` answer and an MCP tool call
 * within the re-check interval, with the error the GraphQL subscription on the same key ends
 * with, each in its door's format, and the upstream model request is closed. Before, they went
 * on (the tenant paying the model) until the model finished.
 *
 * The model server is test/support/fake-openai.ts: a double speaking the OpenAI chat
 * completions protocol over real HTTP, scripted slow (a piece every 150 ms for 15 s).
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { closedBeforeItsEnd, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { revocableKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { parseEvents, restQueryUrl } from '../support/rest.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const PIECES = 100;

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let llm: EndpointSetup;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_CREDENTIAL_RECHECK_MS: '200', SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(server);
  llm = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A fresh READ key of the owner's tenant, and how to revoke it. */
const freshKey = () => revocableKey(server, owner.token, uniqueSlug('stream'));

/** Reads the streamed `response` until `started(text so far)`, revokes the key, then reads it to its end: the whole text. */
async function revokeMidStream(response: Response, revoke: () => Promise<unknown>, started: (text: string) => boolean): Promise<string> {
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let revoked = false;
  for (;;) {
    if (!revoked && started(text)) {
      await revoke();
      revoked = true;
    }
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  expect(revoked, `the stream ended before it started: ${text}`).toBe(true);
  return text;
}

/** A slow answer starts streaming; returns the index of its request to the model double. */
function slowModel(): number {
  fake.script({ deltas: Array.from({ length: PIECES }, (_, index) => `Piece ${index}. `), delayMs: 150 });
  return fake.requests.length;
}

/** The model double saw its request closed by Sluice before it finished answering. */
const expectModelRequestClosed = async (index: number) => expect(await closedBeforeItsEnd(fake, index)).toBe(true);

/** The door's one audit event for the request says how it ended. */
async function expectAudited(action: string, code: string) {
  const events = await auditEventsOf(server, owner.token, 1, { action, outcome: code });
  expect(events.at(-1)).toMatchObject({ action, outcome: code, actorKind: 'apiKey' });
}

describe('revoking an API key ends its streams on every door', () => {
  it('REST Server-Sent Events: a last failed event, the same code and message as the GraphQL subscription on the key', async () => {
    const key = await freshKey();
    // The GraphQL subscription on the same key: what the doors' streams must end with.
    const ws = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { apiKey: key.secret } });
    const graphqlResults: any[] = [];
    const subscription = ws.iterate({ query: 'subscription { heartbeat(intervalSeconds: 1, count: 600) { sequence } }' })[Symbol.asyncIterator]();
    graphqlResults.push((await subscription.next()).value);
    const graphqlEnded = (async () => {
      for (let next = await subscription.next(); !next.done; next = await subscription.next()) graphqlResults.push(next.value);
    })();
    try {
      const model = slowModel();
      const response = await fetch(restQueryUrl(server, llm.reference), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-api-key': key.secret },
        body: JSON.stringify({ query: 'lock' }),
      });
      const text = await revokeMidStream(response, key.revoke, (sofar) => sofar.includes('event: answerDelta'));
      await graphqlEnded;
      const graphqlError = graphqlResults.at(-1).errors[0];
      expect(graphqlError.extensions.code).toBe('UNAUTHENTICATED');
      const events = parseEvents(text);
      expect(events.at(-1)).toEqual({ event: 'failed', data: { code: 'UNAUTHENTICATED', message: graphqlError.message } });
      expect(events.filter((event) => event.event === 'answerDelta').length).toBeLessThan(PIECES);
      await expectModelRequestClosed(model);
      await expectAudited('rest.query', 'UNAUTHENTICATED');
    } finally {
      await ws.dispose();
    }
  });

  it('OpenAI-compatible stream: true: a last error chunk (no [DONE])', async () => {
    const key = await freshKey();
    const model = slowModel();
    const response = await fetch(`${server.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ model: llm.reference, messages: [{ role: 'user', content: 'lock' }], stream: true }),
    });
    const text = await revokeMidStream(response, key.revoke, (sofar) => sofar.includes('Piece 0.'));
    const chunks = text
      .split('\n\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice('data: '.length));
    expect(chunks).not.toContain('[DONE]');
    expect(JSON.parse(chunks.at(-1)!).error).toMatchObject({ code: 'UNAUTHENTICATED', type: 'authentication_error', message: expect.stringMatching(/revoked/i) });
    await expectModelRequestClosed(model);
    await expectAudited('openai.chat', 'UNAUTHENTICATED');
  });

  it('MCP tool call streaming progress: the call ends with an UNAUTHENTICATED tool error', async () => {
    const key = await freshKey();
    const model = slowModel();
    const response = await fetch(new URL(`/mcp/${llm.reference}`, server.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: `ask_${llm.reference.split('/')[1]}`, arguments: { query: 'lock' }, _meta: { progressToken: 'p' } } }),
    });
    // Progress notifications carry the answer's pieces: the model is streaming once one arrived.
    const text = await revokeMidStream(response, key.revoke, (sofar) => sofar.includes('Piece 0.'));
    const result = parseEvents(text)
      .map((event) => event.data)
      .find((message) => message?.id === 7);
    expect(result.result).toMatchObject({ isError: true, structuredContent: { error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/revoked/i) } } });
    await expectModelRequestClosed(model);
    await expectAudited('mcp.request', 'UNAUTHENTICATED');
  });
});
