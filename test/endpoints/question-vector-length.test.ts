/**
 * A question vector of any length gives the same cosines. Stored vectors are unit length; an
 * embeddings server need not send unit vectors (llama.cpp's server can be started not to), and the
 * question's was searched as sent: ×1000 gave `score` 735 and 629 where the documented cosine
 * is −1 to 1, so `minScore: 0.99` dropped nothing; ×1e-44 failed as INTERNAL ("value out of
 * range: underflow" on exact search, NaN on HNSW). Now it is scaled to unit length as stored
 * vectors are, and a vector float4 cannot give a direction is the server's bad answer.
 *
 * The embeddings server is fake-openai: a test double for a third-party embeddings server, a
 * real HTTP server on 127.0.0.1 speaking the real `/v1/embeddings` protocol, scripted here to
 * multiply its vectors (`embeddings.scale`). Runs on either server: embedded PostgreSQL 18 (no
 * pgvector: VECTOR_EXACT) or, with DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres,
 * the machine's PostgreSQL 15 with pgvector (256 dimensions are indexed by default: VECTOR_HNSW).
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createModel, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { embeddedChunks, embeddedDatasetAt, embeddingsModelAt, hasPgvector, type EmbeddedChunk } from '../support/embeddings.js';
import { startFakeOpenAI, trigramVector, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DIMENSIONS = 256;
const DOCUMENTS = [
  { title: 'Locks', text: 'Sluice gates control the water level in a canal lock chamber.' },
  { title: 'Plants', text: 'Photosynthesis converts sunlight into chemical energy in green plants.' },
  { title: 'Bread', text: 'Sourdough bread rises slowly with wild yeast and a long fermentation.' },
];
const QUESTION = 'how do sluice gates hold the canal water';
const PASSAGES = 'passages { chunkId score }';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let chunks: EmbeddedChunk[];
let reference: string;
let engine: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(server);
  const { datasetId } = await embeddedDatasetAt(server, owner.token, fake.baseUrl, { dimensions: DIMENSIONS, documents: DOCUMENTS });
  chunks = await embeddedChunks(server.database.ownerUrl, datasetId);
  const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
  const created = await gql(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference retrieval { engine } } }', {
    input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [datasetId], modelId: chat.id, retrieval: { mode: 'SEMANTIC', topK: 2 } },
  });
  expect(created.errors).toBeUndefined();
  ({ reference, retrieval: { engine } } = created.data.createEndpoint);
  expect(engine).toBe((await hasPgvector(server.database.ownerUrl)) ? 'VECTOR_HNSW' : 'VECTOR_EXACT');
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});
beforeEach(() => fake.script({}));

/** The endpoint's passages for QUESTION, its vector sent multiplied by `scale`. */
async function askScaled(scale: number, options?: Record<string, unknown>) {
  fake.script({ embeddings: { scale } });
  return queryEndpoint(server, owner.token, reference, QUESTION, options, PASSAGES);
}

/** The cosines of the stored chunks with QUESTION's unit vector, highest first (computed here). */
function expectedCosines(): { chunkId: string; score: number }[] {
  const question = trigramVector(QUESTION, DIMENSIONS);
  return chunks
    .map((chunk) => ({ chunkId: chunk.id, score: chunk.vector.reduce((sum, value, index) => sum + value * question[index]!, 0) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, 2);
}

function expectCosines(passages: { chunkId: string; score: number }[]) {
  const expected = expectedCosines();
  expect(passages.map((passage) => passage.chunkId)).toEqual(expected.map((passage) => passage.chunkId));
  passages.forEach((passage, index) => expect(Math.abs(passage.score - expected[index]!.score)).toBeLessThanOrEqual(1e-6));
}

it('gives the same cosines (−1 to 1) for a question vector of any length, and minScore drops by them', async () => {
  const unit = await askScaled(1);
  expect(unit.errors).toBeUndefined();
  expectCosines(unit.data.queryEndpoint.passages);
  expect(unit.data.queryEndpoint.passages[0].score).toBeLessThan(0.99);

  for (const scale of [1000, 1e37, 1e-30]) {
    const scaled = await askScaled(scale);
    expect(scaled.errors, `×${scale}`).toBeUndefined();
    expectCosines(scaled.data.queryEndpoint.passages);
  }
  // Before: scores 735 and 629 at ×1000, both kept.
  const strict = await askScaled(1000, { minScore: 0.99 });
  expect(strict.errors).toBeUndefined();
  expect(strict.data.queryEndpoint.passages).toEqual([]);
});

it('refuses a question vector with no direction float4 can hold as the server’s BAD_RESPONSE, not INTERNAL', async () => {
  // ×1e-44: what is left of each number is a float4 below its normal range (a few steps of 1.4e-45): no direction.
  for (const [scale, message] of [
    [1e-44, /too small/],
    [0, /vector of zeros/],
  ] as const) {
    const body = await askScaled(scale);
    expect(body.data?.queryEndpoint ?? null, `×${scale}`).toBeNull();
    expect(body.errors[0].extensions, `×${scale}`).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'BAD_RESPONSE' });
    expect(body.errors[0].message).toMatch(/^Embedding the question failed: /);
    expect(body.errors[0].message).toMatch(message);
  }
  // The next question is answered as before.
  expectCosines((await askScaled(1)).data.queryEndpoint.passages);
});

it('refuses the same vectors when ingesting: the job fails with EMBEDDING_BAD_RESPONSE instead of storing no direction', async () => {
  const embeddings = await embeddingsModelAt(server, owner.token, fake.baseUrl, DIMENSIONS);
  const dataset = await createDataset(server, owner.token, { embeddingModelId: embeddings.id });
  fake.script({ embeddings: { scale: 1e-44 } });
  const { body } = await ingestInline(server, owner.token, dataset.id, DOCUMENTS);
  const jobId = body.data.ingestDocuments.id;
  expect((await settled(server, owner.token, jobId)).stage).toBe('FAILED');
  const job = await gql(server, owner.token, 'query($id: ID!) { ingestionJob(id: $id) { progress { error errorReason } } }', { id: jobId });
  expect(job.data.ingestionJob.progress).toMatchObject({ errorReason: 'EMBEDDING_BAD_RESPONSE', error: expect.stringMatching(/too small for float4/) });
  expect(await embeddedChunks(server.database.ownerUrl, dataset.id)).toEqual([]);
});

it('refuses an embeddings model whose dimensions exceed what Sluice reads (8 192), on create and update', async () => {
  const CREATE = 'mutation($input: CreateModelInput!) { createModel(input: $input) { id config } }';
  const config = (dimensions: number) => ({ baseUrl: fake.baseUrl, model: 'text-embedding-3-large', dimensions });
  const refused = await gql(server, owner.token, CREATE, { input: { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: config(9000) } });
  expect(refused.data?.createModel ?? null).toBeNull();
  expect(refused.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config', issues: [{ path: 'config.dimensions', message: expect.stringMatching(/8192/) }] });

  const largest = await gql(server, owner.token, CREATE, { input: { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: config(8192) } });
  expect(largest.errors).toBeUndefined();
  const id = largest.data.createModel.id;
  const update = await gql(server, owner.token, 'mutation($id: ID!, $input: UpdateModelInput!) { updateModel(id: $id, input: $input) { id } }', { id, input: { config: config(8193) } });
  expect(update.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'config.dimensions', message: expect.stringMatching(/8192/) }] });
  const stored = await gql(server, owner.token, 'query($id: ID!) { node(id: $id) { ... on Model { config } } }', { id });
  expect(stored.data.node.config.dimensions).toBe(8192);
  // The largest accepted is one a test of the model can pass: the server's 8 192 numbers are read.
  const tested = await gql(server, owner.token, 'mutation($id: ID!) { testModel(id: $id) { ok error } }', { id });
  expect(tested.errors).toBeUndefined();
  expect(tested.data.testModel).toMatchObject({ ok: true });
});
