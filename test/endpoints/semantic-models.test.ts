/**
 * A SEMANTIC endpoint over datasets embedded by two different models. Cosines of different
 * models are not on one scale: here one model embeds in 4 dimensions (hashed trigrams collide,
 * so everything is similar, cosines near 0.9) and the other in 256 (cosines spread out). Merged
 * by score, the 4-dimension dataset's passages would fill the answer; merged by each passage's
 * place in its own model's ranking, each model's best passages come first.
 *
 * fake-openai is a test double for a third-party embeddings server: a real HTTP server on
 * 127.0.0.1 speaking the real `/v1/embeddings` protocol, vectors of hashed character trigrams
 * at the dimension asked for. The chunks are embedded by real ingestion (the EMBEDDING stage).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { embeddedChunks, exactRanking, type EmbeddedChunk } from '../support/embeddings.js';
import { startFakeOpenAI, trigramVector, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const QUESTION = 'fotosynthesis of sunlite in green plant';
const WIDE = [
  { title: 'Locks', text: 'Sluice gates control the water level in a canal lock chamber.' },
  { title: 'Budget', text: 'The quarterly budget report lists marketing expenses by region.' },
  { title: 'Plants', text: 'Photosynthesis converts sunlight into chemical energy in green plants.' },
];
const NARROW = [
  { title: 'Invoices', text: 'Invoices are due thirty days after the end of the month.' },
  { title: 'Harbour', text: 'The harbour pilot boards every ship at the outer buoy.' },
  { title: 'Chess', text: 'Chess openings reward quick development of the minor pieces.' },
];

let server: TestServer;
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function embeddedDataset(owner: Tenant, dimensions: number, documents: typeof WIDE): Promise<{ id: string; chunks: EmbeddedChunk[] }> {
  const model = await createModel(server, owner.token, {
    name: uniqueSlug(`emb-${dimensions}`),
    type: 'openai-compatible-embeddings',
    config: { baseUrl: fake.baseUrl, model: `hashed-trigrams-${dimensions}`, dimensions },
  });
  const dataset = await createDataset(server, owner.token, { embeddingModelId: model.id });
  const { body } = await ingestInline(server, owner.token, dataset.id, documents);
  expect((await settled(server, owner.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  const chunks = await embeddedChunks(server.database.ownerUrl, dataset.id);
  expect(chunks.length).toBe(documents.length);
  return { id: dataset.id, chunks };
}

describe('a semantic ranking over two embedding models', () => {
  it("merges the models' rankings by place, not by cosines on different scales", async () => {
    const owner = await tenantWithOwner(server);
    const wide = await embeddedDataset(owner, 256, WIDE);
    const narrow = await embeddedDataset(owner, 4, NARROW);
    const titleOf = (chunkId: string) =>
      [...WIDE, ...NARROW].find((document) => document.text === [...wide.chunks, ...narrow.chunks].find((chunk) => chunk.id === chunkId)?.content)?.title;
    const similarity = (chunk: EmbeddedChunk, dimensions: number) =>
      chunk.vector.reduce((sum, value, index) => sum + value * trigramVector(QUESTION, dimensions)[index]!, 0);
    // The premise: every narrow passage is more similar by its model than the wide model's best.
    const bestWide = Math.max(...wide.chunks.map((chunk) => similarity(chunk, 256)));
    expect(Math.min(...narrow.chunks.map((chunk) => similarity(chunk, 4)))).toBeGreaterThan(bestWide);

    const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const created = await gql(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }', {
      input: { name: 'Two models', slug: uniqueSlug('ep'), datasetIds: [wide.id, narrow.id], modelId: chat.id, retrieval: { mode: 'SEMANTIC', topK: 4 } },
    });
    expect(created.errors).toBeUndefined();
    const body = await queryEndpoint(server, owner.token, created.data.createEndpoint.reference, QUESTION, undefined, 'passages { chunkId score ranks { semantic } }');
    expect(body.errors).toBeUndefined();
    const passages: { chunkId: string; score: number; ranks: { semantic: number } }[] = body.data.queryEndpoint.passages;

    // Each model's first, then each one's second; between places of one rank, the higher cosine first.
    const wideOrder = exactRanking(wide.chunks, trigramVector(QUESTION, 256));
    const narrowOrder = exactRanking(narrow.chunks, trigramVector(QUESTION, 4));
    expect(passages.map((passage) => passage.chunkId)).toEqual([narrowOrder[0], wideOrder[0], narrowOrder[1], wideOrder[1]]);
    expect(titleOf(passages[1]!.chunkId)).toBe('Plants');
    expect(passages.map((passage) => passage.ranks.semantic)).toEqual([1, 2, 3, 4]);
    // Each score is the passage's cosine by its own model.
    const chunkOf = (chunkId: string) => [...wide.chunks, ...narrow.chunks].find((chunk) => chunk.id === chunkId)!;
    expect(passages[1]!.score).toBeCloseTo(similarity(chunkOf(passages[1]!.chunkId), 256), 4);
    expect(passages[0]!.score).toBeCloseTo(similarity(chunkOf(passages[0]!.chunkId), 4), 4);

    // minScore applies to each passage's own cosine: above the wide model's best, only narrow passages are left.
    const strict = await queryEndpoint(server, owner.token, created.data.createEndpoint.reference, QUESTION, { minScore: bestWide + 0.01 }, 'passages { chunkId }');
    expect(strict.errors).toBeUndefined();
    expect(strict.data.queryEndpoint.passages.map((passage: { chunkId: string }) => passage.chunkId)).toEqual(narrowOrder.slice(0, 3));
  });
});
