/**
 * A client that asks for a streamed answer and never reads is cut once its response has taken
 * nothing for SLUICE_WRITE_STALL_MS, and its query ends CANCELLED through the route's abort
 * path. Before, node:http had no write deadline: such a client held its answer, socket and
 * buffers forever (an API key at 10 requests a second held ~980 of them until the process ran
 * out of file descriptors). The model is the fake model server answering in large pieces, so
 * the answer outgrows every buffer between the server and a client that does not read.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, uniqueSlug, usageOutcomes, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** 16 MiB of answer: more than the socket buffers of both ends of a loopback connection hold. */
// In pieces of 64 KiB: a model's event is bounded (256 Ki characters, model-answer-shape.test.ts).
const LARGE_ANSWER = { deltas: Array.from({ length: 256 }, () => 'x'.repeat(64 * 1024)), usage: null };

let fake: FakeOpenAI;
let server: TestServer;
let owner: Tenant;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // The answer is longer than the default bound on an answer's text (1 Mi characters).
  server = await startTestServer({ env: { SLUICE_WRITE_STALL_MS: '300', SLUICE_MODEL_ANSWER_MAX_CHARS: String(16 * 1024 * 1024) } });
  owner = await tenantWithOwner(server);
}, 120_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const llmEndpoint = () => endpointOver(server, owner.token, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }], { model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } } });

/** Sends one POST on a raw connection that never reads a byte of the answer. */
async function neverReading(path: string, body: unknown, headers: Record<string, string>): Promise<Socket> {
  const { port } = new URL(server.baseUrl);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.pause();
  const text = JSON.stringify(body);
  const head = [`POST ${path} HTTP/1.1`, 'Host: localhost', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`, `Authorization: Bearer ${owner.token}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  socket.write(`${head.join('\r\n')}\r\n\r\n${text}`);
  return socket;
}

/** The outcomes of the query's usage record once written, after the model's connection closed (the answer was abandoned or done). */
async function endedAs(setup: EndpointSetup, modelRequest: number): Promise<string[]> {
  await fake.requestsReached(modelRequest + 1);
  await fake.requests[modelRequest]!.closed;
  return usageOutcomes(server.database, setup.endpointId, 1, 20_000);
}

describe('a client that stops reading', () => {
  it('is cut from a REST event stream, and its query is recorded CANCELLED', async () => {
    const setup = await llmEndpoint();
    fake.script(LARGE_ANSWER);
    const asked = fake.requests.length;
    const socket = await neverReading(`/api/v1/endpoints/${setup.reference}/query`, { query: 'lock keeper' }, { Accept: 'text/event-stream' });
    expect(await endedAs(setup, asked)).toEqual(['CANCELLED']);
    socket.destroy();
  });

  it('is cut from an OpenAI-compatible stream, and its query is recorded CANCELLED', async () => {
    const setup = await llmEndpoint();
    fake.script(LARGE_ANSWER);
    const asked = fake.requests.length;
    const socket = await neverReading('/v1/chat/completions', { model: setup.reference, stream: true, messages: [{ role: 'user', content: 'lock keeper' }] }, {});
    expect(await endedAs(setup, asked)).toEqual(['CANCELLED']);
    socket.destroy();
  });

  // On a server of its own with a deadline of seconds: the reader runs in this process beside the
  // server, so whenever a busy machine pauses the process the reader pauses too, and at load 14
  // such a pause passed the 300 ms above (the process then sees the deadline before the drain).
  it('is not cut while it reads, however large the answer', async () => {
    const reading = await startTestServer({ env: { SLUICE_WRITE_STALL_MS: '5000', SLUICE_MODEL_ANSWER_MAX_CHARS: String(16 * 1024 * 1024) } });
    try {
      const reader = await tenantWithOwner(reading);
      const setup = await endpointOver(reading, reader.token, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }], {
        model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
      });
      // 4 MiB: enough for the server's writes to wait on the reader many times.
      fake.script({ ...LARGE_ANSWER, deltas: LARGE_ANSWER.deltas.slice(0, 64) });
      const response = await fetch(`${reading.baseUrl}/api/v1/endpoints/${setup.reference}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${reader.token}` },
        body: JSON.stringify({ query: 'lock keeper' }),
      });
      const text = await response.text();
      expect(text).toContain('event: completed');
      expect(text.length).toBeGreaterThan(4 * 1024 * 1024);
      expect(await usageOutcomes(reading.database, setup.endpointId, 1)).toEqual(['ok']);
    } finally {
      await reading.close();
    }
  }, 60_000);
});
