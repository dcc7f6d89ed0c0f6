/**
 * API throughput: an authenticated, tenant-scoped nested list (20 datasets × 10 documents with
 * their counts, about 40 KB of JSON) through a real `sluice serve` in production mode with
 * every plugin on (auth, rate limits raised out of the way but counting, audit, operation
 * limits, tracing off), beside a reference that answers the same data with the equivalent SQL
 * under the same row-level security from a minimal node:http handler. Closed-loop maximum
 * (autocannon), then p50/p99 latency at 50 % and 90 % of each one's own maximum.
 *
 * Not here yet: PostGraphile v4 as a peer (see docs/scaling.md).
 * Settings: BENCH_API_SECONDS (default 10 per phase), BENCH_API_CONNECTIONS (default 32).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import pg from 'pg';
import { withClient } from '../src/db/bootstrap.js';
import { appendReport, fixed, machineFacts, table } from './support/report.js';
import { graphql, openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer } from './support/sluice.js';

const QUERY = `{ datasets(first: 20) { edges { node { id name slug documentCount chunkCount bytes lastIngestedAt
  documents(first: 10) { edges { node { id title sourceKey mimeType bytes chunkCount metadata createdAt } } } } } } }`;

const DATASETS_SQL = `select id, name, slug, document_count, chunk_count, byte_count, last_ingested_at, created_at
  from datasets order by created_at, id limit 20`;
const DOCUMENTS_SQL = `select * from (
    select id, dataset_id, title, source_key, mime_type, byte_count, chunk_count, metadata, created_at,
           row_number() over (partition by dataset_id order by created_at, id) as n
      from documents where dataset_id = any($1::uuid[])) d
  where n <= 10 order by dataset_id, n`;

interface Phase {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export async function apiBenchmark(command: string): Promise<void> {
  const seconds = Number(process.env.BENCH_API_SECONDS ?? 10);
  const connections = Number(process.env.BENCH_API_CONNECTIONS ?? 32);
  const database = await openBenchDatabase();
  const server = await startBenchServer(database, {
    ...RAISED_LIMITS,
  });
  let reference: { server: Server; pool: pg.Pool } | undefined;
  try {
    const apiKey = await signUpWithKey(server.url);
    for (let i = 0; i < 20; i += 1) {
      await graphql(server.url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: `Dataset ${i}`, slug: `dataset-${i}` } }, apiKey);
    }
    const tenantId = await seedDocuments(database.ownerUrl);
    const sample = await post(server.url, apiKey);
    const bytes = Buffer.byteLength(sample);
    const parsed = JSON.parse(sample);
    if (parsed.errors || parsed.data.datasets.edges.length !== 20) throw new Error(`unexpected answer: ${sample.slice(0, 300)}`);

    reference = await startReference(database.appUrl, tenantId);
    const referenceUrl = `http://127.0.0.1:${(reference.server.address() as AddressInfo).port}/`;
    const referenceBytes = Buffer.byteLength(await (await fetch(referenceUrl)).text());

    const target = (url: string, headers: Record<string, string>, body?: string) => ({ url, headers, body, method: body ? ('POST' as const) : ('GET' as const) });
    const sluice = target(server.url, { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, JSON.stringify({ query: QUERY }));
    const raw = target(referenceUrl, {});
    console.log(`warming up (${seconds} s each)`);
    await run(sluice, connections, Math.min(5, seconds));
    await run(raw, connections, Math.min(5, seconds));

    const results: Record<string, Phase[]> = {};
    for (const [name, options] of [['Sluice', sluice], ['Reference', raw]] as const) {
      const max = await run(options, connections, seconds);
      const half = await run(options, connections, seconds, Math.round(max.rps * 0.5));
      const ninety = await run(options, connections, seconds, Math.round(max.rps * 0.9));
      results[name] = [max, half, ninety];
      console.log(`${name}: max ${fixed(max.rps)} req/s; at 50 %: p50 ${half.p50} ms, p99 ${half.p99} ms; at 90 %: p50 ${ninety.p50} ms, p99 ${ninety.p99} ms`);
    }
    const [sMax, sHalf, sNinety] = results.Sluice!;
    const [rMax, rHalf, rNinety] = results.Reference!;
    const row = (label: string, phases: Phase[]) => [label, fixed(phases[0]!.rps), `${phases[1]!.p50} / ${phases[1]!.p99}`, `${phases[2]!.p50} / ${phases[2]!.p99}`, phases.reduce((sum, phase) => sum + phase.errors, 0)];
    const body = [
      `API throughput: \`datasets(first: 20) { … documents(first: 10) { … } }\` as an ADMIN API key, ${fixed(bytes / 1024)} KiB per answer (reference: ${fixed(referenceBytes / 1024)} KiB), ${connections} connections, ${seconds} s per phase; \`sluice serve\` in production mode, one process, rate limits on (raised), audit on, operation limits on. Reference: the same two SQL statements in a transaction that sets the tenant (row-level security applies), from a bare node:http handler with a 10-connection pool, no authentication. SQL per GraphQL request: 2 statements for the data (test/query-count.test.ts) plus authentication, the tenant session and the audit write.`,
      '',
      table(
        ['server', 'max req/s (closed loop)', 'p50 / p99 ms at 50 % of its max', 'p50 / p99 ms at 90 % of its max', 'errors'],
        [row('Sluice GraphQL', [sMax!, sHalf!, sNinety!]), row('Reference: raw SQL over HTTP', [rMax!, rHalf!, rNinety!])],
      ),
      '',
      `- Sluice reaches **${fixed((sMax!.rps / rMax!.rps) * 100, 0)} %** of the raw-SQL reference's throughput.`,
      `- Peak resident memory of the Sluice process: ${fixed((await server.peakRss()) / 1024 / 1024, 0)} MiB.`,
    ].join('\n');
    console.log(`\n${body}`);
    await appendReport('API throughput vs raw SQL', machineFacts(database.description), command, body);
  } finally {
    if (reference) {
      await new Promise((resolve) => reference!.server.close(resolve));
      await reference.pool.end();
    }
    await server.stop();
    await database.close();
  }
}

async function post(url: string, apiKey: string): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body: JSON.stringify({ query: QUERY }) });
  return response.text();
}

/** Ten documents in each of the tenant's datasets, written directly (ingestion is benchmarked elsewhere). */
async function seedDocuments(ownerUrl: string): Promise<string> {
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

/** The same data as the GraphQL query, as plain JSON, under the tenant's row-level security. */
async function startReference(appUrl: string, tenantId: string): Promise<{ server: Server; pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: appUrl, max: 10 });
  const server = createServer(async (_req, res) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
      const datasets = (await client.query(DATASETS_SQL)).rows;
      const documents = (await client.query(DOCUMENTS_SQL, [datasets.map((dataset) => dataset.id)])).rows;
      await client.query('commit');
      const byDataset = new Map<string, unknown[]>();
      for (const document of documents) byDataset.set(document.dataset_id, [...(byDataset.get(document.dataset_id) ?? []), document]);
      const body = JSON.stringify({ datasets: datasets.map((dataset) => ({ ...dataset, documents: byDataset.get(dataset.id) ?? [] })) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      res.writeHead(500).end(String(error));
    } finally {
      client.release();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, pool };
}

async function run(options: { url: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }, connections: number, duration: number, overallRate?: number): Promise<Phase> {
  const result = await autocannon({ ...options, connections, duration, ...(overallRate ? { overallRate } : {}) });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}
