/**
 * Streams still running when the shutdown timeout runs out are cut, and they used to lose
 * their audit events: the connections were closed, the audit log closed right after, and the
 * cut handlers recorded `rest.query`, `openai.chat` and `endpoint.query` later, into a closed
 * log ("audit event after the audit log closed: dropped"). Their clients got no last event.
 * Now each open consumer request is ended with UNAVAILABLE in its door's format before its
 * connection closes, and the audit log waits (boundedly) for the events still to come.
 *
 * fake-openai is a test double for a third-party model server: a real HTTP server on 127.0.0.1
 * speaking the real chat completions protocol (streamed server-sent events), with scripted
 * pieces, here one every half second for half a minute.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../src/db/bootstrap.js';
import { endpointOver, uniqueSlug, type EndpointSetup } from './support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { tenantWithOwner, type Tenant } from './support/ingestion.js';
import { startTestServer, type TestServer } from './support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const QUESTION = 'how does the lock fill';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let setup: EndpointSetup;
beforeAll(async () => {
  [fake, server] = await Promise.all([startFakeOpenAI(), startTestServer({ env: { SLUICE_SHUTDOWN_TIMEOUT_MS: '300', SLUICE_MODEL_MAX_RETRIES: '0' } })]);
  owner = await tenantWithOwner(server);
  setup = await endpointOver(server, owner.token, DOCS, { model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' } } });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A streamed response read until `started` is in its text; `ended` resolves with the whole text once the server ends it. */
async function openStream(response: Response, started: string) {
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes(started)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the stream ended early: ${text}`);
    text += value;
  }
  const ended = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return text;
      text += value;
    }
  })();
  return { ended };
}

it('streams cut by the shutdown timeout end with UNAVAILABLE, and their audit events are written', async () => {
  fake.script({ deltas: Array.from({ length: 60 }, (_, index) => `Piece ${index}. `), delayMs: 500 });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` };
  const rest = await openStream(
    await fetch(`${server.baseUrl}/api/v1/endpoints/${setup.reference}/query`, {
      method: 'POST',
      headers: { ...headers, accept: 'text/event-stream' },
      body: JSON.stringify({ query: QUESTION }),
    }),
    'event: answerDelta',
  );
  const chat = (stream: boolean) =>
    fetch(`${server.baseUrl}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: setup.reference, messages: [{ role: 'user', content: QUESTION }], stream }) });
  const openai = await openStream(await chat(true), '"content":"Piece 0. "');
  // Settled either way: before the fix its connection was closed under it.
  const whole = chat(false).catch((error: unknown) => error as Error);
  await fake.requestsReached(3);

  await server.server.close();

  // The audit log closed only once every cut request's events were in (the database outlives the server).
  const rows = await withClient(server.database.ownerUrl, async (db) => {
    const { rows } = await db.query<{ action: string; outcome: string }>(
      `select action, outcome from audit_events where tenant_id = $1 and action in ('rest.query', 'openai.chat', 'endpoint.query') order by action, outcome`,
      [owner.tenant.id],
    );
    return rows;
  });
  expect(rows).toEqual([
    { action: 'endpoint.query', outcome: 'CANCELLED' },
    { action: 'endpoint.query', outcome: 'CANCELLED' },
    { action: 'endpoint.query', outcome: 'CANCELLED' },
    { action: 'openai.chat', outcome: 'UNAVAILABLE' },
    { action: 'openai.chat', outcome: 'UNAVAILABLE' },
    { action: 'rest.query', outcome: 'UNAVAILABLE' },
  ]);
  // Each client got its door's last word: a `failed` event, an OpenAI error event, a 503 error object.
  const restText = await rest.ended;
  expect(restText).toMatch(/event: failed\ndata: \{"code":"UNAVAILABLE"/);
  const openaiText = await openai.ended;
  const lastEvent = JSON.parse(openaiText.trim().split('\n\n').at(-1)!.replace(/^data: /, ''));
  expect(lastEvent.error).toMatchObject({ code: 'UNAVAILABLE' });
  const answered = await whole;
  expect(answered).toBeInstanceOf(Response);
  expect((answered as Response).status).toBe(503);
  expect((await (answered as Response).json()).error).toMatchObject({ code: 'UNAVAILABLE' });

  const logged = server.logs.map((line) => line.msg);
  expect(logged).not.toContain('audit event after the audit log closed: dropped');
  // Nothing was left waiting: every request's event came in before the audit log's bound.
  expect(logged).not.toContain('audit log closing with events still expected from requests in flight');
});
