/**
 * A chat model server's answer is bounded by its shape, not only its bytes
 * (models/providers/openai-http.ts, ANSWER_LIMITS): the work Sluice does on the event loop for
 * an answer grew with what the answer held, behind bounds that counted bytes (or lines). A
 * tenant's hostile server froze the process for every tenant with answers that passed every
 * byte bound: 58 MiB of `[1][1]…` searched for citations (70 to 170 s), one 60 MiB event of
 * 900 KB `data:` lines parsed whole (50 to 110 s), 4 MiB of `{},{},…` in a JSON answer parsed
 * per query (1.5 to 3.5 s each). Now the answer's text, each event, and each JSON text's values
 * are bounded, and past a bound the call is UPSTREAM_ERROR BAD_RESPONSE, nothing more read: the
 * server sees its connection closed before it sent everything. Ordinary answers, and answers
 * with many markers within the bound, are answered as before.
 *
 * fake-openai is a test double for a third-party model server: a real HTTP server on 127.0.0.1
 * speaking the real chat completions protocol (server-sent events or one JSON body), scripted
 * here with hostile shapes (`repeat`, `multilineEvent`, `extraValues`) it writes only as fast as
 * the client reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const TEST = 'mutation($id: ID!) { testModel(id: $id) { ok error } }';
const DOCS = [
  { title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber with water.' },
  { title: 'Weirs', text: 'A weir holds water back across a river. Water flows over the crest of the weir.' },
];
const TOO_MANY_VALUES = "The model server's answer holds more than 10000 JSON values, or nests deeper than a chat completion";

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let reference: string;
let modelId: string;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(server);
  const setup = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('chat'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'shaped' } },
  });
  reference = setup.reference;
  modelId = setup.modelId;
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const ask = async () => {
  const body = await queryEndpoint(server, owner.token, reference, 'water', undefined, 'answer citations { marker documentTitle }');
  return body.errors
    ? { error: body.errors[0].extensions.reason as string, message: body.errors[0].message as string }
    : { answer: body.data.queryEndpoint.answer as string, citations: body.data.queryEndpoint.citations as { marker: number; documentTitle: string }[] };
};
const testModel = async () => (await must(server, owner.token, TEST, { id: modelId })).testModel;

/** The last request's connection, once closed: whether the fake got to send everything. */
const lastFinished = async () => {
  const request = fake.requests.at(-1)!;
  await request.closed;
  return request.finished;
};

describe('an ordinary answer', () => {
  it('streamed or in one JSON body is answered and cited as before', async () => {
    fake.script({ deltas: ['The keeper fills ', 'the chamber [1], ', 'see [2].'] });
    const streamed = await ask();
    fake.script({ deltas: ['The keeper fills the chamber [1], see [2].'], stream: false });
    const whole = await ask();
    for (const answered of [streamed, whole]) {
      expect(answered).toEqual({
        answer: 'The keeper fills the chamber [1], see [2].',
        citations: [
          { marker: 1, documentTitle: expect.any(String) },
          { marker: 2, documentTitle: expect.any(String) },
        ],
      });
    }
    expect(await testModel()).toEqual({ ok: true, error: null });
  });
});

describe('an answer of many citation markers', () => {
  it('within 1 MiB of text cites exactly the passages its markers name; past it, BAD_RESPONSE before the server is done', async () => {
    // 320 000 characters of markers: passage 1 over and over, and markers of no passage.
    fake.script({ deltas: ['See [2]. '], repeat: { text: '[1][7][999][1234]', times: 20_000 } });
    const answered = await ask();
    expect(answered).toMatchObject({ citations: [{ marker: 1 }, { marker: 2 }] });
    expect((answered as { answer: string }).answer).toBe(`See [2]. ${'[1][7][999][1234]'.repeat(20_000)}`);

    // 8 MiB of `[1]`, in 3 000-character pieces: refused once the text passes 1 MiB.
    fake.script({ repeat: { text: '[1]'.repeat(1000), times: 2800 } });
    expect(await ask()).toEqual({ error: 'BAD_RESPONSE', message: "The model server's answer is longer than 1048576 characters" });
    expect(await lastFinished()).toBe(false);
  });
});

describe('one server-sent event of many lines', () => {
  it('over 256 KiB is BAD_RESPONSE before the server is done, though each line is short', async () => {
    // 16 MiB in one event, as 256 lines of 64 KiB of `{},{},…`.
    fake.script({ deltas: ['Fill the chamber [1].'], multilineEvent: { lines: 256, lineChars: 64 * 1024 } });
    expect(await ask()).toEqual({ error: 'BAD_RESPONSE', message: "An event of the model server's answer is larger than 262144 characters" });
    expect(await lastFinished()).toBe(false);
  });
});

describe('JSON of more values than a chat completion holds', () => {
  it('is BAD_RESPONSE for an answer in one body, a streamed event, and testModel; 5 000 extra values are still read', async () => {
    // 20 000 empty objects: 60 KB, within every byte bound.
    fake.script({ deltas: ['Fill the chamber [1].'], stream: false, extraValues: 20_000 });
    expect(await ask()).toEqual({ error: 'BAD_RESPONSE', message: TOO_MANY_VALUES });
    expect(await testModel()).toEqual({ ok: false, error: `BAD_RESPONSE: ${TOO_MANY_VALUES}` });

    fake.script({ deltas: ['Fill the chamber [1].'], extraValues: 20_000 });
    expect(await ask()).toEqual({ error: 'BAD_RESPONSE', message: TOO_MANY_VALUES });
    expect(await testModel()).toEqual({ ok: false, error: `BAD_RESPONSE: ${TOO_MANY_VALUES}` });

    for (const stream of [false, true]) {
      fake.script({ deltas: ['Fill the chamber [1].'], stream, extraValues: 5_000 });
      expect(await ask()).toEqual({ answer: 'Fill the chamber [1].', citations: [{ marker: 1, documentTitle: expect.any(String) }] });
      expect(await testModel()).toEqual({ ok: true, error: null });
    }
  });
});
