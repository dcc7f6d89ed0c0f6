/**
 * API throughput: an authenticated, tenant-scoped nested list (20 datasets × 10 documents with
 * their counts, about 60 KB of JSON) through a real `sluice serve` in production mode with
 * every plugin on (auth, rate limits raised out of the way but counting, audit, operation
 * limits, tracing off), beside two others serving the same rows to the same tenant under the
 * same row-level security, each with a pool of 10 connections as the application role:
 *
 * - PostGraphile v4 (bench/support/postgraphile-server.ts), a peer GraphQL server: its own
 *   process, a bearer JWT verified per request, `app.tenant_id` set in each transaction;
 * - a reference: the equivalent two SQL statements from a minimal node:http handler.
 *
 * Closed-loop maximum (autocannon), then p50/p99 latency at 50 % and 90 % of each one's own
 * maximum, all at the same number of connections.
 * Settings: BENCH_API_SECONDS (default 10 per phase), BENCH_API_CONNECTIONS (default 32),
 * BENCH_WARMUP_SECONDS (default 15 per server, as for every load benchmark).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { DATASETS_SQL, DOCUMENTS_SQL, load, pageTarget, QUERY, seedApiData, WARM_UP_SECONDS, type Phase, type Target } from './support/api-data.js';
import { cpuSecondsOf } from './support/proc.js';
import { startPostGraphile, type PostGraphilePeer } from './support/postgraphile.js';
import { appendReport, fixed, table } from './support/report.js';
import { openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer, type BenchServer } from './support/sluice.js';

/** The same page in PostGraphile's schema: same rows, same order, same fields. */
const POSTGRAPHILE_QUERY = `{ allDatasets(first: 20, orderBy: [CREATED_AT_ASC, ID_ASC]) { edges { node { id name slug documentCount chunkCount byteCount lastIngestedAt
  documentsByDatasetId(first: 10, orderBy: [CREATED_AT_ASC, ID_ASC]) { edges { node { id title sourceKey mimeType byteCount chunkCount metadata createdAt } } } } } } }`;

export async function apiBenchmark(command: string): Promise<void> {
  const seconds = Number(process.env.BENCH_API_SECONDS ?? 10);
  const connections = Number(process.env.BENCH_API_CONNECTIONS ?? 32);
  const database = await openBenchDatabase();
  const server = await startBenchServer(database, { ...RAISED_LIMITS });
  let reference: { server: Server; pool: pg.Pool } | undefined;
  let peer: PostGraphilePeer | undefined;
  try {
    const apiKey = await signUpWithKey(server.url);
    const tenantId = await seedApiData(server.url, apiKey, database.ownerUrl);
    peer = await startPostGraphile(database.appUrl, tenantId);
    reference = await startReference(database.appUrl, tenantId);
    const referenceUrl = `http://127.0.0.1:${(reference.server.address() as AddressInfo).port}/`;

    // The process whose CPU a request costs (the reference runs inside this one, beside autocannon: not measured).
    const targets: [string, Target, number | undefined][] = [
      ['Sluice GraphQL', pageTarget(server.url, apiKey), server.process.child.pid],
      ['PostGraphile v4 (peer)', pageTarget(peer.url, peer.token, POSTGRAPHILE_QUERY), peer.pid],
      ['Reference: raw SQL over HTTP', { url: referenceUrl, method: 'GET', headers: {} }, undefined],
    ];
    const sizes = await Promise.all(targets.map(([, target]) => answerSize(target)));
    // Row-level security, not the query, confines PostGraphile to the tenant: another tenant's token sees nothing.
    const stranger = await strangerSees(peer);

    console.log(`warming up (${WARM_UP_SECONDS} s each)`);
    for (const [, target] of targets) await load(target, connections, WARM_UP_SECONDS);
    const results: Phase[][] = [];
    const cpuPerRequest: (number | undefined)[] = [];
    let statementsPerRequest = 0;
    for (const [name, target, pid] of targets) {
      const cpuBefore = pid ? await cpuSecondsOf(pid) : 0;
      const countersBefore = name.startsWith('Sluice') ? await sluiceCounters(server) : undefined;
      const max = await load(target, connections, seconds);
      cpuPerRequest.push(pid ? ((await cpuSecondsOf(pid)) - cpuBefore) * 1000 / max.total : undefined);
      if (countersBefore) {
        const after = await sluiceCounters(server);
        statementsPerRequest = (after.statements - countersBefore.statements) / (after.queries - countersBefore.queries);
      }
      const half = await load(target, connections, seconds, Math.round(max.rps * 0.5));
      const ninety = await load(target, connections, seconds, Math.round(max.rps * 0.9));
      results.push([max, half, ninety]);
      console.log(`${name}: max ${fixed(max.rps)} req/s; at 50 %: p50 ${half.p50} ms, p99 ${half.p99} ms; at 90 %: p50 ${ninety.p50} ms, p99 ${ninety.p99} ms`);
    }
    const [sluice, postgraphile, raw] = results.map((phases) => phases[0]!.rps) as [number, number, number];
    const failures = (phases: Phase[]) => phases.reduce((sum, phase) => sum + phase.errors + phase.non2xx + phase.timeouts, 0);
    const rows = targets.map(([name], i) => {
      const [max, half, ninety] = results[i]!;
      const cpu = cpuPerRequest[i];
      return [name, fixed(sizes[i]! / 1024), fixed(max!.rps), fixed((max!.rps / raw) * 100, 0) + ' %', cpu === undefined ? 'n/a' : fixed(cpu), `${half!.p50} / ${half!.p99}`, `${ninety!.p50} / ${ninety!.p99}`, failures(results[i]!)];
    });
    const body = [
      `API throughput: \`datasets(first: 20) { … documents(first: 10) { … } }\` (20 datasets × 10 documents) for one tenant, ${connections} connections, ${seconds} s per phase, on 2 cores shared by the load generator, the servers and PostgreSQL (and, on this machine, other sessions' work: figures are noisy, compare ratios within a run). Every server reads as the application role under the same row-level security, with a 10-connection pool.`,
      '',
      `- **Sluice**: \`sluice serve\` in production mode, one process, an ADMIN API key, rate limits on (raised), audit on, operation limits on; SQL per request: ${fixed(statementsPerRequest)} statements on average, counted by the server (\`sluice_db_statements_total\` over the queries answered in the closed-loop phase): the membership check, BEGIN, the tenant session, one statement for the datasets and one for all their documents, COMMIT, and a share of the audit writer's batched inserts. The same count for any page size (test/observability/metrics.test.ts): no N+1.`,
      `- **PostGraphile v4.14** as a peer: its own process, a bearer JWT verified per request (HS256), \`app.tenant_id\` set from it in the request's transaction (\`pgSettings\`); the equivalent \`allDatasets … documentsByDatasetId\` query, which PostGraphile compiles to one SQL statement. Checked: a token for another tenant sees ${stranger} datasets.`,
      `- **Reference**: the same two SQL statements in a transaction that sets the tenant, from a bare node:http handler in the benchmark's own process, no authentication.`,
      '',
      table(['server', 'KiB per answer', 'max req/s (closed loop)', 'of raw SQL', 'server CPU ms per request (closed loop)', 'p50 / p99 ms at 50 % of its max', 'p50 / p99 ms at 90 % of its max', 'errors'], rows),
      '',
      `- Sluice reaches **${fixed((sluice / raw) * 100, 0)} %** of the raw-SQL reference's throughput and **${fixed((sluice / postgraphile) * 100, 0)} %** of PostGraphile's (PostGraphile: ${fixed((postgraphile / raw) * 100, 0)} % of raw SQL).`,
      `- CPU per request: user + system time of the server's process over the closed-loop phase, divided by the requests it answered; the figure contention disturbs least. Sluice costs ${fixed(cpuPerRequest[0]! / cpuPerRequest[1]!)} times PostGraphile's.`,
      `- Peak resident memory: Sluice ${fixed((await server.peakRss()) / 1024 / 1024, 0)} MiB, PostGraphile ${fixed((await peer.peakRss()) / 1024 / 1024, 0)} MiB.`,
    ].join('\n');
    await appendReport('API throughput: Sluice, PostGraphile, raw SQL', database.description, command, body);
  } finally {
    if (reference) {
      await new Promise((resolve) => reference!.server.close(resolve));
      await reference.pool.end();
    }
    await peer?.stop();
    await server.stop();
    await database.close();
  }
}

/** Sluice's own counters: SQL statements sent and queries answered. */
async function sluiceCounters(server: BenchServer): Promise<{ statements: number; queries: number }> {
  const sample = await server.metrics();
  return { statements: sample('sluice_db_statements_total'), queries: sample('sluice_graphql_operations_total{operation_type="query",outcome="ok"}') };
}

/** One answer's size, after checking it holds the 20 datasets (a wrong query must not be measured). */
async function answerSize(target: Target): Promise<number> {
  const response = await fetch(target.url, { method: target.method, headers: target.headers, body: target.body });
  const text = await response.text();
  const parsed = JSON.parse(text);
  const datasets = parsed.data?.datasets?.edges ?? parsed.data?.allDatasets?.edges ?? parsed.datasets;
  if (response.status !== 200 || parsed.errors || datasets?.length !== 20) throw new Error(`unexpected answer from ${target.url}: ${text.slice(0, 300)}`);
  return Buffer.byteLength(text);
}

/** How many datasets PostGraphile shows a valid token of a tenant with none (0 when RLS applies). */
async function strangerSees(peer: PostGraphilePeer): Promise<number> {
  const other = await peer.tokenFor(crypto.randomUUID());
  const response = await fetch(peer.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${other}` },
    body: JSON.stringify({ query: '{ allDatasets { totalCount } }' }),
  });
  const count = (await response.json()).data?.allDatasets?.totalCount;
  if (count !== 0) throw new Error(`PostGraphile showed another tenant ${count} datasets: row-level security is not in force`);
  return count;
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
