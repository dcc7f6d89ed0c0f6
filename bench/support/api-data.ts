/**
 * The data and the load shared by the API benchmarks (bench/api.ts, bench/soak.ts): one
 * tenant's 20 datasets × 10 documents, the GraphQL page that reads them, the equivalent SQL,
 * and autocannon phases that report the same figures for every server under test.
 */
import autocannon from 'autocannon';
import { withClient } from '../../src/db/bootstrap.js';
import { graphql } from './sluice.js';

export const QUERY = `{ datasets(first: 20) { edges { node { id name slug documentCount chunkCount bytes lastIngestedAt
  documents(first: 10) { edges { node { id title sourceKey mimeType bytes chunkCount metadata createdAt } } } } } } }`;

export const DATASETS_SQL = `select id, name, slug, document_count, chunk_count, byte_count, last_ingested_at, created_at
  from datasets order by created_at, id limit 20`;
export const DOCUMENTS_SQL = `select * from (
    select id, dataset_id, title, source_key, mime_type, byte_count, chunk_count, metadata, created_at,
           row_number() over (partition by dataset_id order by created_at, id) as n
      from documents where dataset_id = any($1::uuid[])) d
  where n <= 10 order by dataset_id, n`;

/** 20 datasets through the API, then 10 documents in each written directly; the tenant's id. */
export async function seedApiData(url: string, apiKey: string, ownerUrl: string): Promise<string> {
  for (let i = 0; i < 20; i += 1) {
    await graphql(url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: `Dataset ${i}`, slug: `dataset-${i}` } }, apiKey);
  }
  // Ingestion is benchmarked elsewhere: documents are inserted as rows.
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ id: string }>('select id from tenants');
    const tenantId = rows[0]!.id;
    await client.query(`select set_config('app.tenant_id', $1, false)`, [tenantId]);
    await client.query(
      `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, metadata, created_at, updated_at)
       select gen_random_uuid(), d.tenant_id, d.id, 'handbook/chapter-' || g || '.md', 'Chapter ' || g || ' of ' || d.name, 'text/markdown',
              md5(d.id::text || g), 4000 + g, 5, jsonb_build_object('author', 'Bench', 'section', g), now() + g * interval '1 ms', now()
         from datasets d cross join generate_series(1, 10) g`,
    );
    await client.query('update datasets set document_count = 10, chunk_count = 50, byte_count = 40055, last_ingested_at = now()');
    await client.query('analyze datasets; analyze documents');
    return tenantId;
  });
}

export interface Target {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

export interface Phase {
  rps: number;
  /** Requests completed in the phase. */
  total: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  timeouts: number;
}

/** Closed loop (as fast as `connections` allow) or, with `overallRate`, a fixed rate. */
export async function load(target: Target, connections: number, duration: number, overallRate?: number): Promise<Phase> {
  const result = await autocannon({ ...target, connections, duration, ...(overallRate ? { overallRate } : {}) });
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
  };
}

/** How long a server is loaded before it is measured: after 5 s V8 had not yet finished with Sluice's hot paths (CPU per request read about 50 % high). */
export const WARM_UP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 15);

/** The page (QUERY, or `query`) from a GraphQL server, with a bearer credential. */
export function pageTarget(url: string, token: string, query = QUERY): Target {
  return { url, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) };
}
