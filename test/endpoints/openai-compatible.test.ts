/**
 * The `openai-compatible` model type against fake-openai: a test double for a model server we
 * cannot reach, speaking the real chat completions protocol over real HTTP with SSE streaming.
 * Deltas in order, retries on 429/5xx, timeouts, protocol errors, and a caller who goes away
 * closing the upstream request.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { findFreePort } from '../../src/db/free-port.js';
import { createModel, endpointOver, endpointQueryOverWebSocket, EVENT_FIELDS, must, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [
  { title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' },
  { title: 'Weirs', text: 'A weir holds water back across a river. Water flows over the crest of the weir.' },
];
const TIMEOUT_MS = 400;
/** A whole streamed answer's limit (SLUICE_MODEL_ANSWER_TIMEOUT_MS): far above what these answers take. */
const ANSWER_TIMEOUT_MS = 2000;

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let setup: EndpointSetup;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({
    env: { SLUICE_MODEL_TIMEOUT_MS: String(TIMEOUT_MS), SLUICE_MODEL_ANSWER_TIMEOUT_MS: String(ANSWER_TIMEOUT_MS), SLUICE_MODEL_MAX_RETRIES: '2', SLUICE_MODEL_RETRY_BASE_MS: '10' },
  });
  owner = await tenantWithOwner(server);
  setup = await endpointOver(server, owner.token, DOCS, {
    model: {
      name: uniqueSlug('llm'),
      type: 'openai-compatible',
      config: { baseUrl: fake.baseUrl, model: 'sluice-test', temperature: 0.2, maxTokens: 300 },
      promptMicrosPer1k: 1000,
      completionMicrosPer1k: 2000,
    },
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const events = (results: any[]) => results.map((result) => result.data?.endpointQuery).filter(Boolean);
const ask = (fields = 'answer citations { marker documentTitle } usage { promptTokens completionTokens costMicros }') =>
  queryEndpoint(server, owner.token, setup.reference, 'how does the lock fill', undefined, fields);

describe('streaming answers', () => {
  it('streams the deltas in order, sends the passages and settings, cites the [n] markers and reports usage', async () => {
    fake.script({ deltas: ['The keeper ', 'opens the gates ', '[1].'], usage: { prompt_tokens: 120, completion_tokens: 9 } });
    const before = fake.requests.length;
    const results = await endpointQueryOverWebSocket(server, owner.token, setup.reference, 'how does the lock fill');
    const all = events(results);
    expect(all.filter((event) => event.__typename === 'EndpointQueryAnswerDelta').map((event) => event.text)).toEqual(['The keeper ', 'opens the gates ', '[1].']);
    expect(all.find((event) => event.usage).usage).toEqual({ promptTokens: 120, completionTokens: 9, totalTokens: 129, costMicros: 138 });
    const completed = all.at(-1);
    expect(completed.__typename).toBe('EndpointQueryCompleted');
    expect(completed.answer).toBe('The keeper opens the gates [1].');
    expect(completed.citations).toEqual([{ marker: 1, chunkId: expect.any(String) }]);

    const sent = fake.requests[before]!.body;
    expect(sent).toMatchObject({ model: 'sluice-test', stream: true, temperature: 0.2, max_tokens: 300 });
    expect(sent.messages[0].role).toBe('system');
    expect(sent.messages[1].content).toContain('[1] Locks\nThe lock keeper opens the sluice gates');
    expect(sent.messages[1].content).toMatch(/Question: how does the lock fill$/);
    expect(fake.requests[before]!.headers.authorization).toBeUndefined();
  });

  it('takes an answer sent as one JSON body, ignores markers of passages it was not given, and estimates usage', async () => {
    const answer = 'The keeper fills the chamber [1]; see also [7].';
    fake.script({ deltas: [answer], stream: false, usage: null });
    const body = await ask();
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.answer).toBe(answer);
    expect(body.data.queryEndpoint.citations).toEqual([{ marker: 1, documentTitle: 'Locks' }]);
    expect(body.data.queryEndpoint.usage.promptTokens).toBeGreaterThan(20);
    expect(body.data.queryEndpoint.usage.completionTokens).toBe(Math.ceil(answer.length / 4));
  });
});

describe('retries', () => {
  it('retries a 429 (honouring Retry-After) and a 503, then answers', async () => {
    fake.script({ failures: [{ status: 429, retryAfter: '0' }, { status: 503 }], deltas: ['Third time [1].'] });
    const before = fake.requests.length;
    const body = await ask();
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.answer).toBe('Third time [1].');
    expect(fake.requests.slice(before).map((request) => request.status)).toEqual([429, 503, 200]);
  });

  it('gives up after the configured retries with UPSTREAM_ERROR naming the status', async () => {
    fake.script({ failures: [{ status: 500 }, { status: 502 }, { status: 503 }, { status: 504 }], deltas: ['never'] });
    const before = fake.requests.length;
    const body = await ask();
    expect(body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'HTTP_ERROR', status: 503, attempts: 3 });
    expect(fake.requests.length - before).toBe(3);
  });

  it('does not retry a 401: the key is wrong, asking again will not help', async () => {
    fake.script({ failures: [{ status: 401 }], deltas: ['never'] });
    const before = fake.requests.length;
    const body = await ask();
    expect(body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'HTTP_ERROR', status: 401, attempts: 1 });
    expect(body.errors[0].message).not.toContain('scripted');
    expect(fake.requests.length - before).toBe(1);
  });
});

describe('failures', () => {
  it('times out a server that never starts answering', async () => {
    fake.script({ deltas: ['late'], hangAfter: 0 });
    const started = Date.now();
    const body = await ask();
    expect(body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'TIMEOUT' });
    expect(body.errors[0].message).toBe(`The model server did not answer within ${TIMEOUT_MS} ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS);
  });

  it('ends an answer that keeps trickling past the whole-answer limit, and closes the upstream request', async () => {
    // A piece every 100 ms (well within the wait between pieces) for 4 s: before, the query stayed
    // open for as long as the server went on (a review held one 17 minutes at a piece per 20 s).
    fake.script({ deltas: Array.from({ length: 40 }, (_, index) => `piece ${index}. `), delayMs: 100 });
    const before = fake.requests.length;
    const body = await ask();
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'TIMEOUT' });
    expect(body.errors[0].message).toBe(`The model server's answer took longer than ${ANSWER_TIMEOUT_MS} ms in all (SLUICE_MODEL_ANSWER_TIMEOUT_MS)`);
    const request = fake.requests[before]!;
    await request.closed;
    expect(request.finished).toBe(false);
  });

  it('ends a subscription whose server stops mid-answer with EndpointQueryFailed after the pieces it had', async () => {
    fake.script({ deltas: ['First piece. ', 'never sent'], hangAfter: 1 });
    const all = events(await endpointQueryOverWebSocket(server, owner.token, setup.reference, 'lock'));
    expect(all.filter((event) => event.__typename === 'EndpointQueryAnswerDelta').map((event) => event.text)).toEqual(['First piece. ']);
    expect(all.at(-1)).toMatchObject({ __typename: 'EndpointQueryFailed', code: 'UPSTREAM_ERROR', message: expect.stringContaining('did not answer') });
  });

  it('refuses a stream that is not chat completions with BAD_RESPONSE', async () => {
    fake.script({ garbage: '<html>proxy error</html>' });
    const body = await ask();
    expect(body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'BAD_RESPONSE' });
  });

  it('reports an unreachable server as NETWORK after retrying', async () => {
    // A port that was free a moment ago: connections to it are refused.
    const closedPort = await findFreePort();
    const model = await createModel(server, owner.token, { name: uniqueSlug('gone'), type: 'openai-compatible', config: { baseUrl: `http://127.0.0.1:${closedPort}/v1`, model: 'm' } });
    // Over the dataset already ingested for this file (no second ingestion to wait for).
    const { createEndpoint } = await must(server, owner.token, 'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { reference } }', {
      i: { name: 'Gone', slug: uniqueSlug('gone'), datasetIds: [setup.datasetId], modelId: model.id },
    });
    const body = await queryEndpoint(server, owner.token, createEndpoint.reference, 'lock', undefined, 'answer');
    expect(body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'NETWORK', attempts: 3 });
  });

  it('validates the configuration with field paths', async () => {
    const body = await server.graphql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
      token: owner.token,
      variables: { i: { name: uniqueSlug('bad'), type: 'openai-compatible', config: { baseUrl: 'ftp://example.com', model: '', extra: 1 } } },
    });
    const { extensions } = body.body.errors[0];
    expect(extensions.code).toBe('BAD_USER_INPUT');
    expect(extensions.issues.map((issue: { path: string }) => issue.path).sort()).toEqual(['config', 'config.baseUrl', 'config.model']);
  });
});

describe('a caller who goes away', () => {
  it('closes the upstream request when a graphql-ws subscriber completes mid-answer', async () => {
    // A piece every 100 ms (inside the timeout) for 10 s: only the caller can end it early.
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const before = fake.requests.length;
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${owner.token}` } });
    try {
      const iterator = client.iterate({
        query: `subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { ${EVENT_FIELDS} } }`,
        variables: { e: setup.reference, q: 'lock' },
      });
      // The passages come first; by then the model call is under way.
      const first = await iterator.next();
      expect(first.value.data.endpointQuery.__typename).toBe('EndpointQueryRetrieved');
      await waitFor(() => fake.requests.length > before);
      // Once a piece of the answer has arrived, the upstream response is streaming.
      let next = await iterator.next();
      while (next.value.data.endpointQuery.__typename !== 'EndpointQueryAnswerDelta') next = await iterator.next();
      const left = Date.now();
      await iterator.return?.();
      await fake.requests[before]!.closed;
      expect(fake.requests[before]!.finished).toBe(false);
      expect(Date.now() - left).toBeLessThan(5_000);
    } finally {
      await client.dispose();
    }
  });

  it('closes the upstream request when an HTTP caller aborts', async () => {
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const before = fake.requests.length;
    const controller = new AbortController();
    const response = fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: `query($e: String!) { queryEndpoint(endpoint: $e, query: "lock") { answer } }`, variables: { e: setup.reference } }),
      signal: controller.signal,
    });
    await waitFor(() => fake.requests.length > before);
    const left = Date.now();
    controller.abort();
    await expect(response).rejects.toThrow();
    await fake.requests[before]!.closed;
    expect(fake.requests[before]!.finished).toBe(false);
    expect(Date.now() - left).toBeLessThan(5_000);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
