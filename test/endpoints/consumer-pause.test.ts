/**
 * The model's timeout between pieces (SLUICE_MODEL_TIMEOUT_MS) measures the model, not the
 * consumer. A consumer that paused reading for longer than it (its stream held by backpressure,
 * the answer suspended between two pieces) used to find its answer failed when it read on:
 * UPSTREAM_ERROR "did not answer within …", recorded against the tenant's model in usage, the
 * audit trail and the model-call metric, though the model had been waiting on us (a review as an
 * attacker, 2026-12-07). Now the time the consumer takes to ask for the next piece is not counted.
 *
 * fake-openai is a test double for a third-party model server: a real HTTP server on 127.0.0.1
 * speaking the chat completions protocol, writing only as fast as Sluice reads. The pause is the
 * behaviour under test (a consumer that stops reading for a while), hence a fixed wait: several
 * times the model's timeout, so the answer is suspended past it however busy the machine is.
 */
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, uniqueSlug, usageOutcomes } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const MODEL_TIMEOUT_MS = 1500;

let fake: FakeOpenAI;
let server: TestServer;
let owner: Tenant;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({
    env: { SLUICE_MODEL_TIMEOUT_MS: String(MODEL_TIMEOUT_MS), SLUICE_MODEL_MAX_RETRIES: '0', SLUICE_MODEL_ANSWER_MAX_CHARS: String(16 * 1024 * 1024) },
  });
  owner = await tenantWithOwner(server);
}, 120_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

it('a consumer that pauses longer than the model timeout gets the whole answer when it reads on', async () => {
  const setup = await endpointOver(server, owner.token, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }], {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
  });
  // 16 MiB in 64 KiB pieces: more than every buffer between the server and a client that pauses.
  fake.script({ deltas: Array.from({ length: 256 }, () => 'x'.repeat(64 * 1024)), usage: null });
  const response = await fetch(`${server.baseUrl}/api/v1/endpoints/${setup.reference}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${owner.token}` },
    body: JSON.stringify({ query: 'lock keeper' }),
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  // Which events the stream held, read as it comes (the completed event carries the whole
  // 16 MiB answer: kept whole, the text would be for nothing); a short tail bridges chunks.
  const events = new Set<string>();
  let tail = '';
  const take = (chunk: Uint8Array | undefined) => {
    const text = tail + decoder.decode(chunk, { stream: true });
    for (const match of text.matchAll(/^event: (\w+)$/gm)) events.add(match[1]!);
    tail = text.slice(-32);
  };
  take((await reader.read()).value);
  await wait(MODEL_TIMEOUT_MS * 3);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    take(value);
  }
  expect([...events].sort()).toEqual(['answerDelta', 'completed', 'passage', 'usage']);
  expect(await usageOutcomes(server.database, setup.endpointId, 1)).toEqual(['ok']);
});
