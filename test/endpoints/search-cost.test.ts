/**
 * What one query may cost the database. A review as an attacker (2026-12-05) sent keyword
 * questions of 1 600 numbers, each in thousands of chunks of a 200 000-chunk dataset: each ran
 * for minutes in PostgreSQL, twelve held every connection of the server's pool, and every
 * tenant was refused for eight minutes. Now a query holds at most MAX_QUERY_WORDS different
 * words (BAD_USER_INPUT TOO_MANY_WORDS, before anything is searched), and a search statement
 * running past SLUICE_SEARCH_TIMEOUT_MS is cancelled in PostgreSQL (BAD_USER_INPUT
 * QUERY_TOO_COSTLY), in the keyword and in the semantic ranking alike. The slow statement is
 * made slow for certain, not by luck: the test holds a lock the search needs, so the statement
 * waits until the limit cancels it. The embeddings server is a local stand-in that speaks the
 * real /v1/embeddings protocol over HTTP (support/fake-openai.ts).
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_QUERY_WORDS } from '../../src/domains/endpoint-queries/query.service.js';
import { createModel, endpointOver, must, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let setup: EndpointSetup;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_SEARCH_TIMEOUT_MS: '300' } });
  owner = await tenantWithOwner(server);
  setup = await endpointOver(server, owner.token, [
    { title: 'Lamps', text: 'The keeper trims the lamp wick at dusk and winds the clockwork at 9.' },
    { title: 'Ledger', text: 'Ships 1 2 3 4 5 6 7 8 9 10 were recorded in the harbour ledger.' },
  ]);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const numbers = (count: number, separator: string) => Array.from({ length: count }, (_, index) => String(index)).join(separator);

it('refuses a query of more different words than a query may hold, however they are separated', async () => {
  for (const query of [numbers(MAX_QUERY_WORDS + 1, ' '), numbers(MAX_QUERY_WORDS + 1, ','), `lamp ${numbers(MAX_QUERY_WORDS, '-')}`]) {
    const body = await queryEndpoint(server, owner.token, setup.reference, query, undefined, 'passages { documentTitle }');
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'query', reason: 'TOO_MANY_WORDS', max: MAX_QUERY_WORDS });
  }
  // As many as it may hold, and the same word many times, are searched.
  const full = await queryEndpoint(server, owner.token, setup.reference, numbers(MAX_QUERY_WORDS, ' '), undefined, 'passages { documentTitle }');
  expect(full.errors).toBeUndefined();
  expect(full.data.queryEndpoint.passages.map((passage: { documentTitle: string }) => passage.documentTitle)).toEqual(['Ledger', 'Lamps']);
  const repeated = await queryEndpoint(server, owner.token, setup.reference, Array(500).fill('lamp').join(' '), undefined, 'passages { documentTitle }');
  expect(repeated.data.queryEndpoint.passages).toEqual([{ documentTitle: 'Lamps' }]);
});

it('cancels a search that runs past its time limit, answers why, and the server goes on', async () => {
  const blocker = new pg.Client({ connectionString: server.database.ownerUrl });
  await blocker.connect();
  try {
    // The search reads the dataset's term statistics; this lock makes it wait.
    await blocker.query('begin');
    await blocker.query('lock table dataset_terms in access exclusive mode');
    const body = await queryEndpoint(server, owner.token, setup.reference, 'keeper lamp', undefined, 'passages { documentTitle }');
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'query', reason: 'QUERY_TOO_COSTLY', timeoutMs: 300 });
    // Cancelled in PostgreSQL, not only abandoned by the server: no search waits on the lock any more.
    const { rows } = await blocker.query<{ waiting: number }>(
      `select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
    );
    expect(rows[0]!.waiting).toBe(0);
  } finally {
    await blocker.query('rollback');
    await blocker.end();
  }
  const after = await queryEndpoint(server, owner.token, setup.reference, 'keeper lamp', undefined, 'passages { documentTitle }');
  expect(after.errors).toBeUndefined();
  expect(after.data.queryEndpoint.passages[0].documentTitle).toBe('Lamps');
});

it('cancels a semantic search that runs past its time limit the same way, and keyword queries go on meanwhile', async () => {
  const embeddings = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'text-embedding-3-small', dimensions: 64 } });
  const dataset = await createDataset(server, owner.token, { embeddingModelId: embeddings.id });
  const { body: ingested } = await ingestInline(server, owner.token, dataset.id, [{ title: 'Locks', text: 'Sluice gates hold the water level in a canal lock chamber.' }]);
  expect((await settled(server, owner.token, ingested.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  const answerer = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
  const created = await must(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }', {
    input: { name: 'Meaning', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: answerer.id, retrieval: { mode: 'SEMANTIC' } },
  });
  const semantic = created.createEndpoint.reference as string;
  const blocker = new pg.Client({ connectionString: server.database.ownerUrl });
  await blocker.connect();
  try {
    // The semantic ranking reads the chunks' vectors; this lock makes it wait. Keyword searches do not read them.
    await blocker.query('begin');
    await blocker.query('lock table chunk_embeddings in access exclusive mode');
    const body = await queryEndpoint(server, owner.token, semantic, 'canal water level', undefined, 'passages { documentTitle }');
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'query', reason: 'QUERY_TOO_COSTLY', timeoutMs: 300 });
    const { rows } = await blocker.query<{ waiting: number }>(
      `select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
    );
    expect(rows[0]!.waiting).toBe(0);
    const keyword = await queryEndpoint(server, owner.token, setup.reference, 'keeper lamp', undefined, 'passages { documentTitle }');
    expect(keyword.data.queryEndpoint.passages[0].documentTitle).toBe('Lamps');
  } finally {
    await blocker.query('rollback');
    await blocker.end();
  }
  const after = await queryEndpoint(server, owner.token, semantic, 'canal water level', undefined, 'passages { documentTitle }');
  expect(after.errors).toBeUndefined();
  expect(after.data.queryEndpoint.passages).toEqual([{ documentTitle: 'Locks' }]);
});
