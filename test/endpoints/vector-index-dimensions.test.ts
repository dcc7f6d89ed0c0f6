/**
 * HNSW indexes on the shared chunk_embeddings table only for the dimensions the operator lists
 * (SLUICE_VECTOR_INDEX_DIMENSIONS, src/db/vector-index.ts). A tenant picks its embedding
 * model's `dimensions`; when each new dimension built an index, one tenant could add up to
 * 2 000 of them to the table every tenant's semantic queries plan and lock (a reviewer measured
 * query planning 16 ms → 506 ms and "out of shared memory" across the cluster).
 *
 * Runs on either server: embedded PostgreSQL 18 (no pgvector: no index at all, every engine
 * VECTOR_EXACT) or, with DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres, the
 * machine's PostgreSQL 15 with pgvector, where the listed dimension gets its index.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { runMigrations } from '../../src/db/migrate.js';
import { entities } from '../../src/domains/entities.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { createModel, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { embeddedChunks, exactRanking, hasPgvector } from '../support/embeddings.js';
import { startFakeOpenAI, trigramVector, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const LISTED = 24;
const UNLISTED = 40;
const DOCUMENTS = [
  { title: 'Locks', text: 'Sluice gates control the water level in a canal lock chamber.' },
  { title: 'Plants', text: 'Photosynthesis converts sunlight into chemical energy in green plants.' },
  { title: 'Bread', text: 'Sourdough bread rises slowly with wild yeast and a long fermentation.' },
];

let server: TestServer;
let fake: FakeOpenAI;
let pgvector: boolean;
let owner: Tenant;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0', SLUICE_VECTOR_INDEX_DIMENSIONS: ` ${LISTED} ` } });
  pgvector = await hasPgvector(server.database.ownerUrl);
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** The HNSW indexes on chunk_embeddings, by name (owner connection: the catalogue as it is). */
const hnswIndexes = () =>
  withClient(server.database.ownerUrl, async (client) =>
    (await client.query<{ name: string }>(`select indexname as name from pg_indexes where tablename = 'chunk_embeddings' and indexname like 'chunk_embeddings_hnsw_%' order by 1`)).rows.map((row) => row.name),
  );

/** A dataset of DOCUMENTS embedded by a fake-server model of `dimensions`, and a SEMANTIC endpoint over it. */
async function semanticEndpoint(dimensions: number) {
  const embeddings = await createModel(server, owner.token, {
    name: uniqueSlug('emb'),
    type: 'openai-compatible-embeddings',
    config: { baseUrl: fake.baseUrl, model: 'text-embedding-3-small', dimensions },
  });
  const dataset = await createDataset(server, owner.token, { embeddingModelId: embeddings.id });
  const { body } = await ingestInline(server, owner.token, dataset.id, DOCUMENTS);
  expect((await settled(server, owner.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
  const created = await gql(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference retrieval { mode engine } } }', {
    input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: chat.id, retrieval: { mode: 'SEMANTIC', topK: DOCUMENTS.length } },
  });
  expect(created.errors).toBeUndefined();
  return { datasetId: dataset.id, ...(created.data.createEndpoint as { reference: string; retrieval: { mode: string; engine: string } }) };
}

it('builds no HNSW index for a dimension the operator did not list, and answers its semantic queries by exact search', async () => {
  const unlisted = await semanticEndpoint(UNLISTED);
  expect(await hnswIndexes()).toEqual([]);
  expect(unlisted.retrieval).toEqual({ mode: 'SEMANTIC', engine: 'VECTOR_EXACT' });

  const question = 'fotosynthesis of sunlite in green plant';
  const body = await queryEndpoint(server, owner.token, unlisted.reference, question, undefined, 'passages { chunkId documentTitle }');
  expect(body.errors).toBeUndefined();
  const chunks = await embeddedChunks(server.database.ownerUrl, unlisted.datasetId);
  expect(chunks.map((chunk) => chunk.vector.length)).toEqual(DOCUMENTS.map(() => UNLISTED));
  expect(body.data.queryEndpoint.passages.map((p: any) => p.chunkId)).toEqual(exactRanking(chunks, trigramVector(question, UNLISTED)));
  expect(body.data.queryEndpoint.passages[0].documentTitle).toBe('Plants');

  // A start (migrate) builds the indexes of the dimensions stored: again only the listed ones.
  await runMigrations({ ownerUrl: server.database.ownerUrl, entities, logger: createLogger({ level: 'silent' }), vectorIndexDimensions: new Set([LISTED]) });
  expect(await hnswIndexes()).toEqual([]);
});

it('builds the HNSW index of a listed dimension where pgvector is installed, and the endpoint says which engine serves it', async () => {
  const listed = await semanticEndpoint(LISTED);
  expect(await hnswIndexes()).toEqual(pgvector ? [`chunk_embeddings_hnsw_${LISTED}`] : []);
  expect(listed.retrieval).toEqual({ mode: 'SEMANTIC', engine: pgvector ? 'VECTOR_HNSW' : 'VECTOR_EXACT' });
  const body = await queryEndpoint(server, owner.token, listed.reference, 'sourdough bred', undefined, 'passages { documentTitle }');
  expect(body.errors).toBeUndefined();
  expect(body.data.queryEndpoint.passages[0]).toEqual({ documentTitle: 'Bread' });
});
