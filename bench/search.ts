/**
 * Query latency over a large dataset: 1 million generated chunks (BENCH_SEARCH_CHUNKS), asked
 * through `queryEndpoint` on a real `sluice serve` (auth, request transaction, endpoint
 * lookup, retrieval, the extractive model, the usage record), beside the same retrieval SQL
 * run directly as the app role under the same row-level security, and the statement it
 * replaced (ts_rank_cd, bench/support/legacy-search.ts), in the same run, one request at a
 * time, the three interleaved so all see the same cache and machine state.
 *
 * Settings: BENCH_SEARCH_CHUNKS (default 1 000 000), BENCH_SEARCH_QUERIES (default 400 each).
 */
import pg from 'pg';
import { withClient } from '../src/db/bootstrap.js';
import { fullTextSearchSql } from '../src/domains/endpoints/retriever.js';
import { legacyFullTextSearchSql } from './support/legacy-search.js';
import { appendReport, fixed, percentile, table } from './support/report.js';
import { graphql, openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer } from './support/sluice.js';

const WORDS = (
  'river harbour sluice gate canal lock basin current tide flood meadow valley ridge summit engine parser token ' +
  'schema vector signal packet buffer socket cluster replica shard history archive letter journal record ledger ' +
  'census survey atlas chronicle almanac market trade harvest grain timber copper salt wool spice silver bridge ' +
  'tower mill forge keeper pilot vessel anchor cargo ferry quay dock jetty beacon lantern compass chart voyage'
).split(' ');

/** Word k of the vocabulary: the stems, then the stems numbered (river, …, river1, harbour1, …). */
const VOCABULARY = 20_000;
const wordAt = (k: number) => `${WORDS[k % WORDS.length]}${k >= WORDS.length ? Math.floor(k / WORDS.length) : ''}`;
/** Two- and three-word questions, common and rare words mixed, in a fixed order. */
function questions(count: number): string[] {
  let seed = 7;
  const next = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: count }, () => Array.from({ length: 2 + Math.floor(next() * 2) }, () => wordAt(Math.floor(VOCABULARY * next() ** 2))).join(' '));
}

export async function searchBenchmark(command: string): Promise<void> {
  const chunkCount = Number(process.env.BENCH_SEARCH_CHUNKS ?? 1_000_000);
  const queryCount = Number(process.env.BENCH_SEARCH_QUERIES ?? 400);
  const database = await openBenchDatabase();
  // Rate limits on and counting, out of the way: one client asks as fast as answers come.
  const server = await startBenchServer(database, { ...RAISED_LIMITS });
  try {
    const apiKey = await signUpWithKey(server.url);
    const { createDataset } = await graphql(server.url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Corpus', slug: 'corpus' } }, apiKey);
    const { createModel } = await graphql(server.url, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: 'extractive', type: 'extractive' } }, apiKey);
    const { createEndpoint } = await graphql(
      server.url,
      'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { reference } }',
      { i: { name: 'Corpus', slug: 'corpus', datasetIds: [createDataset.id], modelId: createModel.id, retrieval: { topK: 5 } } },
      apiKey,
    );

    console.log(`generating ${chunkCount} chunks in SQL (about ${Math.round(chunkCount / 8000)} s)`);
    const generated = performance.now();
    const { tenantId, datasetId } = await generateChunks(database.ownerUrl, chunkCount);
    console.log(`  done in ${fixed((performance.now() - generated) / 1000)} s`);

    const app = new pg.Client({ connectionString: database.appUrl });
    await app.connect();
    const asks = questions(queryCount);
    const viaApi: number[] = [];
    const viaSql: number[] = [];
    const viaLegacy: number[] = [];
    let hits = 0;
    try {
      if (process.env.BENCH_EXPLAIN) {
        const { sql, params } = fullTextSearchSql({ datasetIds: [datasetId], query: asks[0]!, topK: 5, minScore: null });
        let index = 0;
        await app.query('begin');
        await app.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
        const plan = await app.query(`explain (analyze, buffers) ${sql.replace(/\?/g, () => `$${++index}`)}`, params);
        await app.query('commit');
        console.log(asks[0], plan.rows.map((row) => row['QUERY PLAN']).join('\n'));
      }
      // Warm both paths before measuring.
      for (const query of asks.slice(0, 20)) {
        await ask(server.url, apiKey, createEndpoint.reference, query);
        await rawSearch(app, tenantId, datasetId, query);
        await rawSearch(app, tenantId, datasetId, query, (request) => legacyFullTextSearchSql(request, 'english'));
      }
      const timed = async <T>(samples: number[], run: () => Promise<T>): Promise<T> => {
        const started = performance.now();
        const result = await run();
        samples.push(performance.now() - started);
        return result;
      };
      const order = [
        ['api', 'sql', 'legacy'],
        ['sql', 'legacy', 'api'],
        ['legacy', 'api', 'sql'],
      ] as const;
      for (const [index, query] of asks.entries()) {
        // Each path goes first for a third of the questions: the second to ask finds the first's
        // pages in PostgreSQL's buffers (until 2026-11-30 the SQL always went second).
        let passages = 0;
        let rows = 0;
        for (const path of order[index % 3]!) {
          if (path === 'api') passages = await timed(viaApi, () => ask(server.url, apiKey, createEndpoint.reference, query));
          else if (path === 'sql') rows = await timed(viaSql, () => rawSearch(app, tenantId, datasetId, query));
          else await timed(viaLegacy, () => rawSearch(app, tenantId, datasetId, query, (request) => legacyFullTextSearchSql(request, 'english')));
        }
        if (rows !== passages) throw new Error(`"${query}": the API returned ${passages} passages, the SQL ${rows}`);
        if (passages > 0) hits += 1;
      }
    } finally {
      await app.end();
    }

    const stats = (samples: number[]) => {
      const sorted = [...samples].sort((a, b) => a - b);
      return [50, 95, 99].map((p) => percentile(sorted, p));
    };
    const api = stats(viaApi);
    const sql = stats(viaSql);
    const legacy = stats(viaLegacy);
    const body = [
      `Search: ${chunkCount} chunks of 40 generated words (a ${VOCABULARY}-word vocabulary drawn with a skew: a few words in most chunks, most words in few) in one dataset; ${queryCount} two- and three-word questions (${hits} with passages), topK 5, one request at a time, the three paths interleaved, each asking first for a third of the questions.`,
      '',
      table(
        ['path', 'p50 ms', 'p95 ms', 'p99 ms'],
        [
          ['GraphQL `queryEndpoint` (passages, extractive answer, usage record) over HTTP', ...api.map((value) => fixed(value))],
          ['Reference: the retrieval SQL alone (`sluice_bm25_search`), app role under RLS, in a transaction', ...sql.map((value) => fixed(value))],
          ['Before: the ts_rank_cd statement of 2f8e06e (bench/support/legacy-search.ts), the same way', ...legacy.map((value) => fixed(value))],
          ['Ratio (GraphQL / SQL)', ...api.map((value, index) => fixed(value / sql[index]!, 2))],
          ['Ratio (BM25 SQL / before)', ...sql.map((value, index) => fixed(value / legacy[index]!, 2))],
        ],
      ),
    ].join('\n');
    await appendReport('Query latency vs raw SQL', database.description, command, body);
  } finally {
    await server.stop();
    await database.close();
  }
}

async function ask(url: string, apiKey: string, endpoint: string, query: string): Promise<number> {
  const { queryEndpoint } = await graphql(url, 'query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) { passages { chunkId score highlight documentTitle } answer } }', { e: endpoint, q: query }, apiKey);
  return queryEndpoint.passages.length;
}

/** The retriever's own statement (or the legacy one), on a plain pg connection as the app role, tenant set. */
async function rawSearch(client: pg.Client, tenantId: string, datasetId: string, query: string, statement: typeof fullTextSearchSql = fullTextSearchSql): Promise<number> {
  const { sql, params } = statement({ datasetIds: [datasetId], query, topK: 5, minScore: null });
  let index = 0;
  const text = sql.replace(/\?/g, () => `$${++index}`);
  await client.query('begin');
  try {
    await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
    return (await client.query(text, params)).rowCount ?? 0;
  } finally {
    await client.query('commit');
  }
}

/** Documents of 100 chunks each, written by PostgreSQL itself (owner role, one statement each). */
async function generateChunks(ownerUrl: string, count: number): Promise<{ tenantId: string; datasetId: string }> {
  return withClient(ownerUrl, async (client) => {
    // A fresh database with one tenant; its rows are readable once the session names it (RLS).
    const { rows: tenants } = await client.query<{ id: string }>('select id from tenants');
    if (tenants.length !== 1) throw new Error(`expected one tenant, found ${tenants.length}`);
    const tenantId = tenants[0]!.id;
    await client.query(`select set_config('app.tenant_id', $1, false)`, [tenantId]);
    const { rows } = await client.query<{ id: string }>(`select id from datasets where slug = 'corpus'`);
    const datasetId = rows[0]!.id;
    const documents = Math.ceil(count / 100);
    await client.query(
      `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, metadata, created_at, updated_at)
       select gen_random_uuid(), $1, $2, 'doc-' || g, 'Document ' || g, 'text/plain', md5(g::text), 0, 100, '{}', now(), now()
         from generate_series(1, $3) g`,
      [tenantId, datasetId, documents],
    );
    // In slices, so progress shows and no single statement runs for minutes.
    const slice = 1000;
    for (let first = 0; first < documents; first += slice) {
      // Word k (as wordAt above), k skewed towards the start: a few words common, most rare.
      await client.query(
        `with vocabulary as (select array[${WORDS.map((word) => `'${word}'`).join(',')}] as stems)
         insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language)
         select gen_random_uuid(), d.tenant_id, d.dataset_id, d.id, o, t.content, 0, length(t.content), 'english'
           from vocabulary v
           cross join (select * from documents where dataset_id = $1 order by source_key offset $2 limit $3) d
           cross join generate_series(0, ${Math.min(100, count)} - 1) o
           cross join lateral (
             select string_agg(v.stems[1 + p.k % ${WORDS.length}] || case when p.k >= ${WORDS.length} then (p.k / ${WORDS.length})::text else '' end, ' ') || '.' as content
               from generate_series(1, 40 + (o * 0)) w
               cross join lateral (select floor(${VOCABULARY} * power(random(), 3))::int + 0 * w as k) p
           ) t`,
        [datasetId, first, slice],
      );
      if ((first / slice) % 2 === 1) console.log(`  ${Math.min(count, (first + slice) * 100)} chunks`);
    }
    await client.query(`select gin_clean_pending_list('chunks_search_index'::regclass)`);
    await client.query('vacuum analyze chunks');
    await client.query('update datasets set chunk_count = $1, document_count = $2 where id = $3', [documents * 100, documents, datasetId]);
    return { tenantId, datasetId };
  });
}
