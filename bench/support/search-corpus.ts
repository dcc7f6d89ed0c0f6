/**
 * The search benchmarks' corpus (bench/search.ts, bench/search-budget.ts): a tenant with an
 * extractive KEYWORD endpoint over one dataset of generated chunks (40 words each from a
 * 20 000-word vocabulary drawn with a skew: a few words in most chunks, most words in few),
 * written by PostgreSQL itself, and the questions both benchmarks ask, in a fixed order.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withClient } from '../../src/db/bootstrap.js';
import { fixed } from './report.js';
import { graphql, signUpWithKey } from './sluice.js';

const WORDS = (
  'river harbour sluice gate canal lock basin current tide flood meadow valley ridge summit engine parser token ' +
  'schema vector signal packet buffer socket cluster replica shard history archive letter journal record ledger ' +
  'census survey atlas chronicle almanac market trade harvest grain timber copper salt wool spice silver bridge ' +
  'tower mill forge keeper pilot vessel anchor cargo ferry quay dock jetty beacon lantern compass chart voyage'
).split(' ');

/** Word k of the vocabulary: the stems, then the stems numbered (river, …, river1, harbour1, …). */
export const VOCABULARY = 20_000;
const wordAt = (k: number) => `${WORDS[k % WORDS.length]}${k >= WORDS.length ? Math.floor(k / WORDS.length) : ''}`;
/** Two- and three-word questions, common and rare words mixed, in a fixed order. */
export function questions(count: number): string[] {
  let seed = 7;
  const next = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: count }, () => Array.from({ length: 2 + Math.floor(next() * 2) }, () => wordAt(Math.floor(VOCABULARY * next() ** 2))).join(' '));
}

export interface SearchCorpus {
  apiKey: string;
  /** The endpoint's reference (`tenant/slug`). */
  endpoint: string;
  tenantId: string;
  datasetId: string;
}

/**
 * Signs up on the server at `url`, creates the endpoint, and writes `chunkCount` chunks into its
 * dataset. With `keepDir` (BENCH_SEARCH_KEEP: the embedded data directory kept between runs), a
 * corpus of that size made there by an earlier run is reused, not made again.
 */
export async function searchCorpus(url: string, ownerUrl: string, chunkCount: number, keepDir?: string): Promise<SearchCorpus> {
  const saved = keepDir ? path.join(keepDir, 'search-corpus.json') : undefined;
  if (saved) {
    const earlier = await readFile(saved, 'utf8').then((text) => JSON.parse(text) as SearchCorpus & { chunkCount: number }, () => undefined);
    if (earlier && earlier.chunkCount === chunkCount) {
      console.log(`reusing the ${chunkCount} chunks generated in ${keepDir}`);
      return earlier;
    }
    if (earlier) throw new Error(`${keepDir} holds a corpus of ${earlier.chunkCount} chunks, not ${chunkCount}: use another BENCH_SEARCH_KEEP`);
  }
  const apiKey = await signUpWithKey(url);
  const { createDataset } = await graphql(url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Corpus', slug: 'corpus' } }, apiKey);
  const { createModel } = await graphql(url, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: 'extractive', type: 'extractive' } }, apiKey);
  const { createEndpoint } = await graphql(
    url,
    'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { reference } }',
    { i: { name: 'Corpus', slug: 'corpus', datasetIds: [createDataset.id], modelId: createModel.id, retrieval: { topK: 5 } } },
    apiKey,
  );
  console.log(`generating ${chunkCount} chunks in SQL (about ${Math.round(chunkCount / 8000)} s)`);
  const generated = performance.now();
  const { tenantId, datasetId } = await generateChunks(ownerUrl, chunkCount);
  console.log(`  done in ${fixed((performance.now() - generated) / 1000)} s`);
  const corpus = { apiKey, endpoint: createEndpoint.reference, tenantId, datasetId };
  if (saved) await writeFile(saved, JSON.stringify({ ...corpus, chunkCount }), { mode: 0o600 });
  return corpus;
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
