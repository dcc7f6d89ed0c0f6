/**
 * A semantic query that meets a re-embedding's switch of serving model. The query reads the
 * dataset's serving model (A), then embeds the question by it with no transaction open; if the
 * re-embedding to model B completes meanwhile, A's vectors are deleted in the switch's
 * transaction. The query must then answer from B's vectors (the question embedded by B too),
 * never from A's vectors that are gone: until 2026-12-05 it answered an empty list, as if
 * nothing matched (a user review saw 1 query in 40 to 55 do so during a re-embedding).
 *
 * Forced here, not raced: model A's server holds the question until the switch has committed.
 * Two fake-openai servers are test doubles for third-party embeddings servers: real HTTP
 * servers on 127.0.0.1 speaking the real `/v1/embeddings` protocol (hashed character trigrams).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createModel, gql, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const QUESTION = 'sunlight and green plants';
/** The requests that embedded the question (ingestion's carry the chunks). */
const questionsAt = (fake: FakeOpenAI) => fake.requests.filter((request) => JSON.stringify(request.body.input) === JSON.stringify([QUESTION])).length;

const DOCUMENTS = [
  { title: 'Locks', text: 'Sluice gates control the water level in a canal lock chamber.' },
  { title: 'Budget', text: 'The quarterly budget report lists marketing expenses by region.' },
  { title: 'Plants', text: 'Photosynthesis converts sunlight into chemical energy in green plants.' },
];

let server: TestServer;
let first: FakeOpenAI;
let second: FakeOpenAI;
beforeAll(async () => {
  [first, second] = [await startFakeOpenAI(), await startFakeOpenAI()];
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
  await first?.close();
  await second?.close();
});

it('answers from the new serving model when the switch commits while the question is embedded', async () => {
  const owner = await tenantWithOwner(server);
  const embeddings = (fake: FakeOpenAI, name: string) =>
    createModel(server, owner.token, { name: uniqueSlug(name), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: name, dimensions: 64 } });
  const [a, b] = [await embeddings(first, 'first'), await embeddings(second, 'second')];
  const dataset = await createDataset(server, owner.token, { embeddingModelId: a.id });
  const { body } = await ingestInline(server, owner.token, dataset.id, DOCUMENTS);
  expect((await settled(server, owner.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
  const created = await gql(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }', {
    input: { name: 'Switching', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: chat.id, retrieval: { mode: 'SEMANTIC', topK: 3 } },
  });
  expect(created.errors).toBeUndefined();

  // The question reaches model A's server and is held there.
  let release!: () => void;
  first.script({ embeddings: { until: new Promise<void>((resolve) => (release = resolve)) } });
  const asked = first.requests.length;
  const answer = queryEndpoint(server, owner.token, created.data.createEndpoint.reference, QUESTION, undefined, 'passages { documentTitle } usage { promptTokens }');
  await first.requestsReached(asked + 1);

  // Meanwhile the dataset is re-embedded by B, which becomes its serving model; A's vectors are deleted.
  const reembedded = await must(server, owner.token, 'mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }', {
    id: dataset.id,
    input: { embeddingModelId: b.id },
  });
  expect(reembedded.updateDataset.id).toBe(dataset.id);
  const [job] = (await must(server, owner.token, 'query($id: ID!) { ingestionJobs(datasetId: $id, last: 1) { edges { node { id } } } }', { id: dataset.id })).ingestionJobs.edges;
  expect((await settled(server, owner.token, job.node.id)).stage).toBe('COMPLETED');
  const state = await must(server, owner.token, 'query($id: ID!) { node(id: $id) { ... on Dataset { embedding { servingModel { id } } } } }', { id: dataset.id });
  expect(state.node.embedding.servingModel.id).toBe(b.id);

  // Model A answers now: the query sees the switch, embeds the question by B, and answers from B's vectors.
  const questionsToB = questionsAt(second);
  first.script({});
  release();
  const result = await answer;
  expect(result.errors).toBeUndefined();
  const titles = result.data.queryEndpoint.passages.map((passage: { documentTitle: string }) => passage.documentTitle);
  expect(titles).toHaveLength(3);
  expect(titles[0]).toBe('Plants');
  expect(questionsAt(second)).toBe(questionsToB + 1);
  expect(questionsAt(first)).toBe(1);
  // Both embeddings of the question are the query's usage: one more than the same query with no switch
  // (the fake counts a token per 4 characters).
  const again = await queryEndpoint(server, owner.token, created.data.createEndpoint.reference, QUESTION, undefined, 'passages { documentTitle } usage { promptTokens }');
  expect(again.data.queryEndpoint.passages.map((passage: { documentTitle: string }) => passage.documentTitle)).toEqual(titles);
  expect(result.data.queryEndpoint.usage.promptTokens).toBe(again.data.queryEndpoint.usage.promptTokens + Math.ceil(QUESTION.length / 4));
});
