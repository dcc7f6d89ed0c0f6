/**
 * A model server's usage figures are its own to report, and not always counts: 3e9 tokens
 * (over what a usage record holds), a negative or fractional number. Each used to reach the
 * usage record as it was: a SEMANTIC query failed INTERNAL with the SQL, an ingestion job was
 * retried by the queue, calling the server again each time. A figure that is not a count from
 * 0 to 10 000 000 is now treated as none reported: the tokens are estimated (4 characters a
 * token), as for a server that reports nothing (models/provider.ts, reportedTokens).
 *
 * fake-openai is a test double for a third-party model server: a real HTTP server on 127.0.0.1
 * speaking the real chat completions and `/v1/embeddings` protocols, with scripted usage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, endpointOver, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const QUESTION = 'sluice gates';
const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

describe('usage figures that are not counts', () => {
  it('from an embeddings server: ingestion completes, a SEMANTIC query is answered, both with estimated tokens', async () => {
    fake.script({ embeddings: { usage: { prompt_tokens: 3e9, total_tokens: 3e9 } } });
    const model = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'm', dimensions: 16 } });
    const dataset = await createDataset(server, owner.token, { embeddingModelId: model.id });
    const { body } = await ingestInline(server, owner.token, dataset.id, DOCS);
    const job = await settled(server, owner.token, body.data.ingestDocuments.id);
    expect(job.stage).toBe('COMPLETED');
    expect(job.attempts).toBe(1);

    const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const created = await gql(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }', {
      input: { name: 'Semantic', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: chat.id, retrieval: { mode: 'SEMANTIC' } },
    });
    for (const usage of [{ prompt_tokens: 3e9, total_tokens: 3e9 }, { prompt_tokens: -5, total_tokens: -5 }, { prompt_tokens: 2.5, total_tokens: 2.5 }]) {
      fake.script({ embeddings: { usage } });
      const answer = await queryEndpoint(server, owner.token, created.data.createEndpoint.reference, QUESTION, undefined, 'passages { documentTitle } usage { promptTokens }');
      expect(answer.errors).toBeUndefined();
      expect(answer.data.queryEndpoint.passages).toEqual([{ documentTitle: 'Locks' }]);
      // The question's estimate (12 characters: 3 tokens) plus the extractive answer's, which reports none.
      expect(answer.data.queryEndpoint.usage.promptTokens).toBeLessThan(1000);
    }
  });

  it('from a chat server: the answer is given, its usage estimated', async () => {
    const setup = await endpointOver(server, owner.token, DOCS, { model: { name: uniqueSlug('chat'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' } } });
    fake.script({ deltas: ['Open the gates [1].'], usage: { prompt_tokens: -5, completion_tokens: 3e9 } });
    const body = await queryEndpoint(server, owner.token, setup.reference, QUESTION, undefined, 'answer usage { promptTokens completionTokens }');
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.answer).toBe('Open the gates [1].');
    const { promptTokens, completionTokens } = body.data.queryEndpoint.usage;
    expect(promptTokens).toBeGreaterThan(0);
    expect(promptTokens).toBeLessThan(10_000);
    // "Open the gates [1]." is 19 characters: 5 tokens at 4 characters a token.
    expect(completionTokens).toBe(5);
  });
});
