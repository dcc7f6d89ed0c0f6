/**
 * One tenant's vectors cannot make another's semantic search come back short. The HNSW index of
 * a dimension is shared by every tenant, and pgvector's iterative scan stops after
 * `hnsw.max_scan_tuples` index tuples whoever's they are: tenant A's many chunks near a
 * question used up the scan before it reached tenant B's, and B's SEMANTIC endpoint answered
 * none of its passages (HYBRID: none placed by meaning). Now a scan that found fewer rows than
 * B's filters hold is searched again exactly, and counted.
 *
 * Runs only on the machine's PostgreSQL 15 with pgvector
 * (DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres): the embedded server has no HNSW.
 * The scan is bounded small here (SLUICE_HNSW_MAX_SCAN_TUPLES, and the same value server-wide
 * for the test's database, as an operator may set it), so a few hundred chunks crowd it as
 * tens of thousands would at pgvector's default. The embeddings server is fake-openai: a test
 * double for a third-party embeddings server, a real HTTP server on 127.0.0.1 speaking
 * `/v1/embeddings`, whose vectors are hashed character trigrams (shared words: near vectors).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { semanticSearchSql } from '../../src/domains/endpoints/semantic-retriever.js';
import { createModel, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { embeddedChunks, embeddedDatasetAt, exactRanking, hasPgvector, type EmbeddedChunk } from '../support/embeddings.js';
import { databaseIdOf } from '../support/global-ids.js';
import { startFakeOpenAI, trigramVector, type FakeOpenAI } from '../support/fake-openai.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { scrape, sumOf } from '../support/metrics.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DIMENSIONS = 256;
const MAX_SCAN_TUPLES = 1;
const EF_SEARCH = 10;
const TOP_K = 5;
const QUESTION = 'how do the canal lock gates hold the water level';
/** Tenant A: chunks of about 100 characters, each near the question. */
const CROWD = 300;
/** Tenant B: its own chunks, far from the question (other words). */
const OWN = 20;
const PASSAGES = 'passages { chunkId score ranks { keyword semantic } }';

const sentences = (count: number, sentence: (index: number) => string) => Array.from({ length: count }, (_, index) => sentence(index)).join(' ');

let database: TestDatabase;
let server: TestServer;
let fake: FakeOpenAI;
let b: { owner: Tenant; datasetId: string; modelId: string; chunks: EmbeddedChunk[] };

describe.runIf(process.env.DATABASE_URL)('a semantic search in an HNSW neighbourhood crowded by another tenant', () => {
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    database = await createTestDatabase();
    await withClient(database.adminUrl, async (client) => {
      await client.query(`alter database ${database.name} set hnsw.max_scan_tuples = ${MAX_SCAN_TUPLES}`);
      // The planner rightly searches a few dozen vectors through the (tenant, dataset, model)
      // index and a sort, which is exact; a tenant with a large dataset gets the HNSW index.
      // Sorts priced out (as retrieval-modes.test.ts does in its EXPLAIN), B's search takes it here.
      await client.query(`alter database ${database.name} set enable_sort = off`);
    });
    server = await startTestServer({ database, env: { SLUICE_HNSW_MAX_SCAN_TUPLES: String(MAX_SCAN_TUPLES), SLUICE_HNSW_EF_SEARCH: String(EF_SEARCH) } });
    const chunking = { chunkSize: 100, chunkOverlap: 0 };
    const a = await tenantWithOwner(server);
    const crowd = sentences(CROWD, (index) => `The canal lock gates hold the water level, lock ${index} of the canal.`);
    await embeddedDatasetAt(server, a.token, fake.baseUrl, { dimensions: DIMENSIONS, documents: [{ title: 'Locks', text: crowd }], options: chunking });
    const owner = await tenantWithOwner(server);
    const own = sentences(OWN, (index) => `Sourdough bread ${index} rises slowly with wild yeast overnight.`);
    const { datasetId, modelId } = await embeddedDatasetAt(server, owner.token, fake.baseUrl, { dimensions: DIMENSIONS, documents: [{ title: 'Bread', text: own }], options: chunking });
    b = { owner, datasetId, modelId, chunks: await embeddedChunks(server.database.ownerUrl, datasetId) };
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await fake?.close();
    await database?.drop();
  });

  it("answers B's passages, searched again exactly when the HNSW scan stops short of them, and counts it", async () => {
    if (!(await hasPgvector(server.database.ownerUrl))) return;
    expect(b.chunks.length).toBeGreaterThan(TOP_K);
    expect(await planFor(b)).toContain(`Index Scan using chunk_embeddings_hnsw_${DIMENSIONS}`);
    const chat = await createModel(server, b.owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const endpoint = async (mode: string) => {
      const created = await gql(server, b.owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference retrieval { engine } } }', {
        input: { name: mode, slug: uniqueSlug('ep'), datasetIds: [b.datasetId], modelId: chat.id, retrieval: { mode, topK: TOP_K } },
      });
      expect(created.errors).toBeUndefined();
      return created.data.createEndpoint as { reference: string; retrieval: { engine: string } };
    };
    const semantic = await endpoint('SEMANTIC');
    expect(semantic.retrieval.engine).toBe('VECTOR_HNSW');
    const before = sumOf(await scrape(server), 'sluice_vector_search_exact_fallbacks_total', {});
    const body = await queryEndpoint(server, b.owner.token, semantic.reference, QUESTION, undefined, PASSAGES);
    expect(body.errors).toBeUndefined();
    // B's own nearest, as exact search ranks them (cosines computed here; B's texts differ by a
    // number, so near-ties may fall either way), not fewer, nor none.
    const nearest = exactCosines(b.chunks);
    expect(body.data.queryEndpoint.passages.map((passage: any) => nearest.get(passage.chunkId))).toEqual(closeTo([...nearest.values()].slice(0, TOP_K)));
    expect(sumOf(await scrape(server), 'sluice_vector_search_exact_fallbacks_total', {}) - before).toBe(1);

    // HYBRID reads the semantic ranking through the same search: it places TOP_K of B's passages by meaning, each at its exact rank.
    const hybrid = await endpoint('HYBRID');
    const fused = await queryEndpoint(server, b.owner.token, hybrid.reference, QUESTION, undefined, PASSAGES);
    expect(fused.errors).toBeUndefined();
    const bySemantic = fused.data.queryEndpoint.passages.filter((passage: any) => passage.ranks.semantic !== null).sort((x: any, y: any) => x.ranks.semantic - y.ranks.semantic);
    expect(bySemantic.map((passage: any) => nearest.get(passage.chunkId))).toEqual(closeTo([...nearest.values()].slice(0, bySemantic.length)));
    expect(bySemantic.length).toBe(TOP_K);
  });
});

/** Each chunk's cosine with the question, highest first (exact search, computed here). */
function exactCosines(chunks: EmbeddedChunk[]): Map<string, number> {
  const question = trigramVector(QUESTION, DIMENSIONS);
  const cosine = (chunk: EmbeddedChunk) => chunk.vector.reduce((sum, value, index) => sum + value * question[index]!, 0);
  return new Map(exactRanking(chunks, question).map((id) => [id, cosine(chunks.find((chunk) => chunk.id === id)!)]));
}

const closeTo = (values: number[]) => values.map((value) => expect.closeTo(value, 5));

/**
 * The plan of B's search statement as the server runs it: the app role, B's tenant bound, the
 * search settings the server sets, sorts priced out for the database. A planner that chose the
 * (tenant, dataset, model) index would search B's vectors exactly, and prove nothing here.
 */
async function planFor(tenant: typeof b): Promise<string> {
  const question = { modelId: databaseIdOf(tenant.modelId), datasetIds: [databaseIdOf(tenant.datasetId)], vector: trigramVector(QUESTION, DIMENSIONS) };
  const vectorSchema = await withClient(server.database.ownerUrl, async (client) =>
    (await client.query(`select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector'`)).rows[0].nspname as string,
  );
  const { sql, params } = semanticSearchSql(question, TOP_K, 'VECTOR_HNSW', vectorSchema);
  let n = 0;
  return withClient(server.database.appUrl, async (client) => {
    await client.query('begin');
    await client.query(`select set_config('app.tenant_id', $1, true)`, [tenant.owner.tenant.id]);
    await client.query(`select set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`, [String(Math.max(EF_SEARCH, TOP_K))]);
    const { rows } = await client.query(`explain ${sql.replace(/\?/g, () => `$${++n}`)}`, params);
    await client.query('rollback');
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  });
}
