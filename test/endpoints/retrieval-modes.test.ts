/**
 * Retrieval modes (issue 19, items 4-5): KEYWORD, SEMANTIC and HYBRID endpoints over the real
 * server and PostgreSQL. The question is embedded by fake-openai: a test double for a
 * third-party embeddings server, a real HTTP server on 127.0.0.1 speaking the real
 * `/v1/embeddings` protocol, whose vectors are hashed character trigrams (near-spelled text
 * are neighbours). The chunks are embedded by real ingestion (the EMBEDDING stage, which also
 * builds the dimension's HNSW index where pgvector exists), through the same fake server.
 *
 * Runs on either server: embedded PostgreSQL 18 (no pgvector: the engine is VECTOR_EXACT) or,
 * with DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres, the machine's PostgreSQL 15
 * with pgvector (VECTOR_HNSW). Both must give the exact ranking on this small set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { semanticSearchSql } from '../../src/domains/endpoints/semantic-retriever.js';
import { createModel, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { embeddedChunks, exactRanking, hasPgvector, type EmbeddedChunk } from '../support/embeddings.js';
import { databaseIdOf } from '../support/global-ids.js';
import { startFakeOpenAI, trigramVector, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DIMENSIONS = 256;
const DOCUMENTS = [
  { title: 'Locks', text: 'Sluice gates control the water level in a canal lock chamber.' },
  { title: 'Budget', text: 'The quarterly budget report lists marketing expenses by region.' },
  { title: 'Plants', text: 'Photosynthesis converts sunlight into chemical energy in green plants.' },
  { title: 'Lighthouse', text: 'A lighthouse keeper maintained the lamp through the winter storms.' },
  { title: 'Bread', text: 'Sourdough bread rises slowly with wild yeast and a long fermentation.' },
];
const PASSAGES = 'passages { rank chunkId documentTitle score ranks { keyword semantic } } usage { promptTokens costMicros }';
const ENDPOINT_FIELDS = 'id reference retrieval { mode engine topK minScore }';

let server: TestServer;
let fake: FakeOpenAI;
let pgvector: boolean;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // No retries and a short timeout: the failure tests wait for neither.
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0', SLUICE_MODEL_TIMEOUT_MS: '1000' } });
  pgvector = await hasPgvector(server.database.ownerUrl);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

interface Setup {
  owner: Tenant;
  datasetId: string;
  chunks: EmbeddedChunk[];
  chatModelId: string;
  embeddingsModelId: string;
}

/** A tenant with the documents ingested and embedded (the EMBEDDING stage) by an embeddings model of the fake server (1000 micro-units per 1k tokens). */
async function embeddedTenant(): Promise<Setup> {
  const owner = await tenantWithOwner(server);
  const embeddings = await createModel(server, owner.token, {
    name: uniqueSlug('emb'),
    type: 'openai-compatible-embeddings',
    config: { baseUrl: fake.baseUrl, model: 'text-embedding-3-small', dimensions: DIMENSIONS },
    promptMicrosPer1k: 1000,
  });
  const dataset = await createDataset(server, owner.token, { embeddingModelId: embeddings.id });
  const { body } = await ingestInline(server, owner.token, dataset.id, DOCUMENTS);
  expect((await settled(server, owner.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  const chunks = await embeddedChunks(server.database.ownerUrl, dataset.id);
  expect(chunks.length).toBe(DOCUMENTS.length);
  const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
  return { owner, datasetId: dataset.id, chunks, chatModelId: chat.id, embeddingsModelId: embeddings.id };
}

async function createEndpoint(setup: Setup, retrieval: Record<string, unknown> | undefined, datasetIds = [setup.datasetId]) {
  return gql(server, setup.owner.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { ${ENDPOINT_FIELDS} } }`, {
    input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds, modelId: setup.chatModelId, retrieval },
  });
}

async function endpoint(setup: Setup, retrieval?: Record<string, unknown>) {
  const body = await createEndpoint(setup, retrieval);
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data.createEndpoint as { id: string; reference: string; retrieval: { mode: string; engine: string; topK: number } };
}

const titleOf = (setup: Setup, chunkId: string) => DOCUMENTS.find((document) => document.text === setup.chunks.find((chunk) => chunk.id === chunkId)?.content)?.title;

describe('retrieval modes', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await embeddedTenant();
  });

  it('keeps KEYWORD the default: full-text passages, ranked by keyword only, no embedding call', async () => {
    const created = await endpoint(setup);
    expect(created.retrieval).toMatchObject({ mode: 'KEYWORD', engine: 'KEYWORD_BM25', topK: 5 });
    const before = fake.requests.length;
    const body = await queryEndpoint(server, setup.owner.token, created.reference, 'quarterly budget report', undefined, PASSAGES);
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.passages.map((p: any) => [p.documentTitle, p.ranks])).toEqual([['Budget', { keyword: 1, semantic: null }]]);
    expect(body.data.queryEndpoint.usage.costMicros).toBe(0);
    expect(fake.requests.length).toBe(before);
  });

  it('answers SEMANTIC by embedding similarity: a misspelled question finds its neighbour, in the exact ranking', async () => {
    const created = await endpoint(setup, { mode: 'SEMANTIC', topK: DOCUMENTS.length });
    expect(created.retrieval).toMatchObject({ mode: 'SEMANTIC', engine: pgvector ? 'VECTOR_HNSW' : 'VECTOR_EXACT' });
    const question = 'fotosynthesis of sunlite in green plant';
    const keywordOnly = await endpoint(setup, { mode: 'KEYWORD' });
    expect((await queryEndpoint(server, setup.owner.token, keywordOnly.reference, 'fotosynthesis sunlite', undefined, PASSAGES)).data.queryEndpoint.passages).toEqual([]);

    const before = fake.requests.length;
    const body = await queryEndpoint(server, setup.owner.token, created.reference, question, undefined, PASSAGES);
    expect(body.errors).toBeUndefined();
    const passages = body.data.queryEndpoint.passages;
    expect(titleOf(setup, passages[0].chunkId)).toBe('Plants');
    // HNSW (pgvector) or exact SQL: the same order as the exact ranking computed here.
    expect(passages.map((p: any) => p.chunkId)).toEqual(exactRanking(setup.chunks, trigramVector(question, DIMENSIONS)));
    expect(passages.map((p: any) => p.ranks)).toEqual(passages.map((_: unknown, index: number) => ({ keyword: null, semantic: index + 1 })));
    const expectedScore = setup.chunks.find((chunk) => chunk.id === passages[0].chunkId)!.vector.reduce((sum, value, index) => sum + value * trigramVector(question, DIMENSIONS)[index]!, 0);
    expect(passages[0].score).toBeCloseTo(expectedScore, 4);
    // One embeddings call for the question, with the model's dimensions; its tokens are charged.
    const calls = fake.requests.slice(before).filter((request) => request.body.input !== undefined);
    expect(calls.map((request) => request.body)).toEqual([{ model: 'text-embedding-3-small', input: [question], dimensions: DIMENSIONS, encoding_format: 'float' }]);
    expect(body.data.queryEndpoint.usage.costMicros).toBe(Math.ceil(question.length / 4));
  });

  it('embeds the question without its search syntax, and leaves out passages holding an excluded word', async () => {
    const semantic = await endpoint(setup, { mode: 'SEMANTIC', topK: DOCUMENTS.length });
    const hybrid = await endpoint(setup, { mode: 'HYBRID', topK: DOCUMENTS.length });
    const titles = async (reference: string, question: string) => {
      const body = await queryEndpoint(server, setup.owner.token, reference, question, undefined, PASSAGES);
      expect(body.errors).toBeUndefined();
      return body.data.queryEndpoint.passages.map((p: any) => p.documentTitle) as string[];
    };
    const before = fake.requests.length;
    const kept = await titles(semantic.reference, 'lighthouse lamp -sourdough -"green plants"');
    // Every passage but the two excluded, nearest first; what was embedded is the question's meaning only.
    expect(kept).toHaveLength(DOCUMENTS.length - 2);
    expect(kept[0]).toBe('Lighthouse');
    expect(kept).not.toContain('Bread');
    expect(kept).not.toContain('Plants');
    expect(fake.requests.slice(before).map((request) => request.body.input)).toEqual([['lighthouse lamp']]);
    // HYBRID: neither ranking places an excluded passage.
    const fused = await titles(hybrid.reference, 'lamp -lighthouse');
    expect(fused).not.toContain('Lighthouse');
    expect(fused.length).toBeGreaterThan(0);
    // Nothing but exclusions: nothing to embed, and nothing placed.
    const asked = fake.requests.length;
    expect(await titles(semantic.reference, '-lighthouse')).toEqual([]);
    expect(fake.requests.length).toBe(asked);
  });

  it('applies topK and minScore to the similarity', async () => {
    const created = await endpoint(setup, { mode: 'SEMANTIC', topK: 2, minScore: 0.3 });
    const question = 'lighthouse keeper lamp winter storms';
    const body = await queryEndpoint(server, setup.owner.token, created.reference, question, undefined, PASSAGES);
    const passages = body.data.queryEndpoint.passages;
    // Similarities 0.70 (Lighthouse), then 0.27 and below: only one clears 0.3.
    expect(passages.map((p: any) => p.documentTitle)).toEqual(['Lighthouse']);
    expect(passages[0].score).toBeGreaterThan(0.3);
    const two = await queryEndpoint(server, setup.owner.token, created.reference, question, { minScore: 0 }, PASSAGES);
    expect(two.data.queryEndpoint.passages.map((p: any) => p.documentTitle)).toEqual(['Lighthouse', 'Plants']);
  });

  it('says when nothing can be searched by meaning yet: VECTOR_NONE and HYBRID_BM25_ONLY until a dataset has vectors', async () => {
    const empty = await createDataset(server, setup.owner.token, { embeddingModelId: setup.embeddingsModelId });
    const engines = async (datasetIds: string[]) => {
      const engineOf = async (mode: string) => {
        const body = await createEndpoint(setup, { mode }, datasetIds);
        expect(body.errors).toBeUndefined();
        return body.data.createEndpoint.retrieval.engine;
      };
      return [await engineOf('SEMANTIC'), await engineOf('HYBRID')];
    };
    expect(await engines([empty.id])).toEqual(['VECTOR_NONE', 'HYBRID_BM25_ONLY']);
    // Beside a dataset with vectors, the endpoint is served by them.
    expect(await engines([empty.id, setup.datasetId])).toEqual(pgvector ? ['VECTOR_HNSW', 'HYBRID_BM25_HNSW'] : ['VECTOR_EXACT', 'HYBRID_BM25_EXACT']);
    const { body } = await ingestInline(server, setup.owner.token, empty.id, [{ title: 'Tides', text: 'The tide turns twice a day at the harbour mouth.' }]);
    expect((await settled(server, setup.owner.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    expect(await engines([empty.id])).toEqual(pgvector ? ['VECTOR_HNSW', 'HYBRID_BM25_HNSW'] : ['VECTOR_EXACT', 'HYBRID_BM25_EXACT']);
  });

  it('fuses both rankings in HYBRID: each passage carries its keyword and semantic ranks and the RRF score', async () => {
    const created = await endpoint(setup, { mode: 'HYBRID', topK: DOCUMENTS.length });
    expect(created.retrieval).toMatchObject({ mode: 'HYBRID', engine: pgvector ? 'HYBRID_BM25_HNSW' : 'HYBRID_BM25_EXACT' });
    const question = 'sourdough bred fermentaton';
    const body = await queryEndpoint(server, setup.owner.token, created.reference, question, undefined, PASSAGES);
    expect(body.errors).toBeUndefined();
    const passages = body.data.queryEndpoint.passages;
    // "sourdough" matches by keyword; the misspellings only by meaning: both place Bread first.
    expect(titleOf(setup, passages[0].chunkId)).toBe('Bread');
    expect(passages[0].ranks).toEqual({ keyword: 1, semantic: 1 });
    expect(passages[0].score).toBeCloseTo(2 / 61, 10);
    const semantic = exactRanking(setup.chunks, trigramVector(question, DIMENSIONS));
    for (const passage of passages) {
      expect(passage.ranks.semantic).toBe(semantic.indexOf(passage.chunkId) + 1);
      const expected = (passage.ranks.keyword ? 1 / (60 + passage.ranks.keyword) : 0) + 1 / (60 + passage.ranks.semantic);
      expect(passage.score).toBeCloseTo(expected, 10);
    }
    expect(passages.filter((p: any) => p.ranks.keyword === null).length).toBe(DOCUMENTS.length - 1);
  });

  it('takes a minScore within the mode’s scores only, on create, on a change of mode, and per query', async () => {
    const range = (body: any) => body.errors?.[0]?.extensions;
    // SEMANTIC scores are cosines (−1 to 1): a negative threshold is meaningful, one above 1 is not.
    expect((await endpoint(setup, { mode: 'SEMANTIC', minScore: -0.5 })).retrieval).toMatchObject({ mode: 'SEMANTIC', minScore: -0.5 });
    expect(range(await createEndpoint(setup, { mode: 'SEMANTIC', minScore: 2 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'minScore', reason: 'MIN_SCORE_OUT_OF_RANGE', mode: 'SEMANTIC', min: -1, max: 1 });
    expect(range(await createEndpoint(setup, { minScore: -0.5 }))).toMatchObject({ reason: 'MIN_SCORE_OUT_OF_RANGE', mode: 'KEYWORD', min: 0, max: null });
    // A BM25 threshold kept into HYBRID (fused scores stay under 2/61) would keep nothing: refused.
    const keyword = await endpoint(setup, { minScore: 1.5 });
    const update = (retrieval: Record<string, unknown>) =>
      gql(server, setup.owner.token, `mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { ${ENDPOINT_FIELDS} } }`, { id: keyword.id, input: { retrieval } });
    const refused = await update({ mode: 'HYBRID' });
    expect(range(refused)).toMatchObject({ reason: 'MIN_SCORE_OUT_OF_RANGE', mode: 'HYBRID', min: 0 });
    expect(range(refused).max).toBeCloseTo(2 / 61, 10);
    expect(refused.errors[0].message).toContain('0 to 0.0328');
    expect((await update({ mode: 'HYBRID', minScore: 0.02 })).data.updateEndpoint.retrieval).toMatchObject({ mode: 'HYBRID', minScore: 0.02 });
    // Per query, against the endpoint's mode.
    const asked = await queryEndpoint(server, setup.owner.token, keyword.reference, 'canal lock', { minScore: 1.5 }, 'passages { rank }');
    expect(range(asked)).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'MIN_SCORE_OUT_OF_RANGE', mode: 'HYBRID' });
    expect((await update({ mode: 'KEYWORD', minScore: null })).data.updateEndpoint.retrieval).toMatchObject({ mode: 'KEYWORD', minScore: null });
  });

  it('refuses SEMANTIC and HYBRID over a dataset with no embedding model, on create and on update', async () => {
    const plain = await createDataset(server, setup.owner.token);
    const refused = await createEndpoint(setup, { mode: 'SEMANTIC' }, [setup.datasetId, plain.id]);
    expect(refused.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'mode', reason: 'NO_EMBEDDING_MODEL', datasetIds: [plain.id] });
    const keyword = await endpoint(setup);
    const update = (input: Record<string, unknown>) =>
      gql(server, setup.owner.token, `mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { ${ENDPOINT_FIELDS} } }`, { id: keyword.id, input });
    expect((await update({ datasetIds: [plain.id] })).data.updateEndpoint.retrieval.mode).toBe('KEYWORD');
    expect((await update({ retrieval: { mode: 'HYBRID' } })).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NO_EMBEDDING_MODEL' });
    expect((await update({ datasetIds: [setup.datasetId], retrieval: { mode: 'HYBRID' } })).data.updateEndpoint.retrieval.mode).toBe('HYBRID');
    expect((await update({ datasetIds: [plain.id] })).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NO_EMBEDDING_MODEL' });
  });

  it('answers a coded UPSTREAM_ERROR in SEMANTIC when the embeddings server fails or times out; KEYWORD endpoints go on answering', async () => {
    const semantic = await endpoint(setup, { mode: 'SEMANTIC' });
    const keyword = await endpoint(setup);
    try {
      fake.script({ failures: [{ status: 503 }] });
      const failed = await queryEndpoint(server, setup.owner.token, semantic.reference, 'canal lock', undefined, PASSAGES);
      expect(failed.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'HTTP_ERROR', status: 503 });

      // A retrieval-only selection gets the failure on `passages` itself, never an empty "no match".
      for (const reference of [semantic.reference, (await endpoint(setup, { mode: 'HYBRID' })).reference]) {
        fake.script({ failures: [{ status: 503 }] });
        const onlyPassages = await queryEndpoint(server, setup.owner.token, reference, 'canal lock', undefined, 'passages { rank chunkId }');
        expect(onlyPassages.errors).toHaveLength(1);
        expect(onlyPassages.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'HTTP_ERROR', status: 503 });
        expect(onlyPassages.errors[0].message).toBe('Embedding the question failed: The model server answered HTTP 503');
        // The list's first item, as graphql-js reports a failed async iterable; the result is null.
        expect(onlyPassages.errors[0].path.slice(0, 2)).toEqual(['queryEndpoint', 'passages']);
        expect(onlyPassages.data).toBeNull();
      }

      fake.script({ hangAfter: 0 });
      const timedOut = await queryEndpoint(server, setup.owner.token, semantic.reference, 'canal lock', undefined, PASSAGES);
      expect(timedOut.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'TIMEOUT' });
      const answered = await queryEndpoint(server, setup.owner.token, keyword.reference, 'canal lock', undefined, PASSAGES);
      expect(answered.errors).toBeUndefined();
      expect(answered.data.queryEndpoint.passages.map((p: any) => p.documentTitle)).toEqual(['Locks']);
    } finally {
      fake.script({ deltas: ['Hello.'] });
    }
  });
});

it.runIf(process.env.DATABASE_URL)('uses the HNSW index for the semantic query where pgvector is installed (the statement matches its expression)', async () => {
  if (!pgvector) return;
  const setup = await embeddedTenant();
  const question = { modelId: databaseIdOf(setup.chatModelId), datasetIds: [databaseIdOf(setup.datasetId)], vector: trigramVector('canal lock', DIMENSIONS) };
  const { sql, params } = semanticSearchSql(question, 10, 'VECTOR_HNSW', 'public');
  // Positional parameters as knex binds them; the planner sees the same custom plan.
  let n = 0;
  // As the app role, the tenant bound: row-level security's filter does not keep the index away.
  const plan = await withClient(server.database.appUrl, async (client) => {
    await client.query('begin');
    await client.query(`select set_config('app.tenant_id', $1, true)`, [setup.owner.tenant.id]);
    // On five rows the planner rightly prefers the (tenant, dataset, model) index and a sort;
    // with sorts priced out, what remains shows whether the HNSW index can serve the statement.
    await client.query('set local enable_seqscan = off');
    await client.query('set local enable_sort = off');
    const { rows } = await client.query(`explain ${sql.replace(/\?/g, () => `$${++n}`)}`, params);
    await client.query('rollback');
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  });
  expect(plan).toContain(`Index Scan using chunk_embeddings_hnsw_${DIMENSIONS}`);
  // Built with Sluice's graph settings, not pgvector's defaults (src/db/vector-index.ts, HNSW_BUILD).
  const options = await withClient(server.database.ownerUrl, async (client) =>
    (await client.query(`select reloptions from pg_class where relname = $1`, [`chunk_embeddings_hnsw_${DIMENSIONS}`])).rows[0].reloptions,
  );
  expect(options).toEqual(['m=24', 'ef_construction=128']);
});

describe('isolation', () => {
  it("never searches another tenant's vectors: two tenants, the same texts, each finds only its own chunks", async () => {
    const [a, b] = [await embeddedTenant(), await embeddedTenant()];
    const bChunks = new Set(b.chunks.map((chunk) => chunk.id));
    for (const [setup, own] of [[a, a], [b, b]] as const) {
      const created = await endpoint(setup, { mode: 'HYBRID', topK: DOCUMENTS.length });
      const body = await queryEndpoint(server, setup.owner.token, created.reference, 'canal lock water level', undefined, PASSAGES);
      const ids = body.data.queryEndpoint.passages.map((p: any) => p.chunkId);
      expect(ids.length).toBe(DOCUMENTS.length);
      expect(new Set(ids)).toEqual(new Set(own.chunks.map((chunk) => chunk.id)));
    }
    // A's endpoint cannot be pointed at B's dataset: it is not found for A.
    const foreign = await createEndpoint(a, { mode: 'SEMANTIC' }, [b.datasetId]);
    expect(foreign.errors[0].extensions.code).toBe('NOT_FOUND');
    expect(bChunks.size).toBe(DOCUMENTS.length);
  });
});
