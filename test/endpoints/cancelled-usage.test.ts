/**
 * A streamed answer the consumer closes before the model's usage arrives is still charged for
 * what it consumed. It used to be recorded CANCELLED with 0 tokens, 0 cost and 0 charged, on
 * every door: a consumer that read the whole answer and closed the stream before the last event
 * never filled an `accounting` quota, and the publisher's costs missed what its provider billed.
 * Now the prompt and the text streamed so far are recorded and charged, estimated (4 characters
 * a token) as for a server that reports no usage.
 *
 * Also: a server's absurd usage (2 147 483 000 prompt tokens) no longer overflows the record's
 * 32-bit `total_tokens`, which wrote no usage record at all and answered INTERNAL.
 *
 * fake-openai is a test double for a third-party model server: a real HTTP server on 127.0.0.1
 * speaking the real chat completions protocol (streamed server-sent events), with scripted pieces.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, EVENT_FIELDS, must, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy } from '../support/policies.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const QUESTION = 'how does the lock fill';
/** A piece every 100 ms for 10 s, the usage reported last: only the consumer ends it early. */
const SLOW_ANSWER = { deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100, usage: { prompt_tokens: 400, completion_tokens: 300 } };
const PER_1K_TOKENS = 1_000_000;

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
beforeAll(async () => {
  [fake, server] = await Promise.all([startFakeOpenAI(), startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0' } })]);
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** An endpoint over the fake model server, priced, with an accounting policy charging per token. */
async function chargedEndpoint(): Promise<EndpointSetup> {
  const setup = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' }, promptMicrosPer1k: 1000, completionMicrosPer1k: 2000 },
  });
  await createPolicy(server, owner.token, setup.endpointId, 'accounting', { microsPer1kTokens: PER_1K_TOKENS, quota: 1_000_000_000 });
  return setup;
}

interface UsageRow {
  outcome: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_micros: string;
  charged_micros: string;
}

/** The endpoint's one usage record, once written (a cancelled query is recorded as it ends, after its response). */
function usageRecordOf(setup: EndpointSetup): Promise<UsageRow[]> {
  const read = () =>
    withClient(server.database.ownerUrl, async (db) => {
      const { rows } = await db.query<UsageRow>('select outcome, prompt_tokens, completion_tokens, total_tokens, cost_micros, charged_micros from usage_records where endpoint_id = $1', [
        databaseIdOf(setup.endpointId),
      ]);
      return rows;
    });
  return pollUntil(read, (rows) => rows.length > 0, { failure: () => `no usage record for ${setup.reference}` });
}

/** What a cancelled query must have been recorded and charged: the prompt and the pieces seen, estimated, not the usage the server never sent. */
function expectChargedFor(rows: UsageRow[], streamed: string) {
  expect(rows).toHaveLength(1);
  const [row] = rows as [UsageRow];
  expect(row.outcome).toBe('CANCELLED');
  // The prompt (system prompt, passage and question) is a few hundred characters; the server's 400 never came.
  expect(row.prompt_tokens).toBeGreaterThan(20);
  expect(row.prompt_tokens).toBeLessThan(400);
  // At least the pieces the consumer read, at 4 characters a token (the server may have sent one more before the close reached it).
  expect(row.completion_tokens).toBeGreaterThanOrEqual(Math.ceil(streamed.length / 4));
  expect(row.completion_tokens).toBeLessThan(300);
  expect(row.total_tokens).toBe(row.prompt_tokens + row.completion_tokens);
  expect(Number(row.cost_micros)).toBe(Math.round((row.prompt_tokens * 1000 + row.completion_tokens * 2000) / 1000));
  expect(Number(row.charged_micros)).toBe(Math.ceil((PER_1K_TOKENS * row.total_tokens) / 1000));
}

describe('a streamed answer the consumer cancels', () => {
  it('over a GraphQL SSE subscription: recorded and charged the prompt and the pieces streamed, and myUsage shows them', async () => {
    const setup = await chargedEndpoint();
    fake.script(SLOW_ANSWER);
    const controller = new AbortController();
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: `subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { ${EVENT_FIELDS} } }`, variables: { e: setup.reference, q: QUESTION } }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    const pieces: string[] = [];
    while (pieces.length < 2) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream ended early: ${received}`);
      received += value;
      pieces.splice(0, pieces.length, ...[...received.matchAll(/"text":"([^"]*)"/g)].map((match) => match[1]!));
    }
    controller.abort();
    await reader.cancel().catch(() => undefined);

    const rows = await usageRecordOf(setup);
    expectChargedFor(rows, pieces.join(''));
    const mine = await must(server, owner.token, 'query($e: String!) { myUsage(endpoint: $e) { queries totalTokens chargedMicros } }', { e: setup.reference });
    expect(mine.myUsage).toEqual({ queries: 1, totalTokens: rows[0]!.total_tokens, chargedMicros: Number(rows[0]!.charged_micros) });
  });

  it('over the OpenAI-compatible door with stream: true: recorded and charged the same way', async () => {
    const setup = await chargedEndpoint();
    fake.script(SLOW_ANSWER);
    const controller = new AbortController();
    const client = new OpenAI({ baseURL: `${server.baseUrl}/v1`, apiKey: owner.token, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: setup.reference, messages: [{ role: 'user', content: QUESTION }], stream: true }, { signal: controller.signal });
    const seen: string[] = [];
    // Closed after two pieces of a hundred; the client ends its iteration quietly once its signal aborts.
    for await (const chunk of stream) {
      seen.push(...chunk.choices.flatMap((choice) => (choice.delta.content ? [choice.delta.content] : [])));
      if (seen.length === 2) controller.abort();
    }
    expect(seen).toEqual(['Piece 0. ', 'Piece 1. ']);
    expectChargedFor(await usageRecordOf(setup), seen.join(''));
  });
});

describe('usage figures past any real count', () => {
  it('2 147 483 000 prompt tokens: the query is answered and recorded, the prompt estimated', async () => {
    const setup = await chargedEndpoint();
    fake.script({ deltas: ['Open the gates [1].'], usage: { prompt_tokens: 2_147_483_000, completion_tokens: 1000 } });
    const body = await queryEndpoint(server, owner.token, setup.reference, QUESTION, undefined, 'answer usage { promptTokens completionTokens totalTokens }');
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.answer).toBe('Open the gates [1].');
    const { promptTokens, completionTokens, totalTokens } = body.data.queryEndpoint.usage;
    expect(promptTokens).toBeGreaterThan(20);
    expect(promptTokens).toBeLessThan(10_000);
    // 1 000 is a count: kept as reported.
    expect(completionTokens).toBe(1000);
    const rows = await usageRecordOf(setup);
    expect(rows).toEqual([expect.objectContaining({ outcome: 'ok', prompt_tokens: promptTokens, completion_tokens: 1000, total_tokens: totalTokens })]);
    expect(Number(rows[0]!.charged_micros)).toBe(Math.ceil((PER_1K_TOKENS * totalTokens) / 1000));
  });
});
