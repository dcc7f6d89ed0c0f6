/**
 * Endpoint query throughput: `queryEndpoint` (KEYWORD retrieval, the built-in extractive
 * model, the usage record) through a real `sluice serve` in production mode, beside a
 * reference that runs the SAME retrieval statement (`fullTextSearchSql`) from a minimal
 * node:http handler as the application role, in a transaction that sets the tenant, with a
 * pool of 10, and answers the rows as JSON. Both are loaded closed-loop (autocannon) with the
 * same plain-word questions, rotated, at the same number of connections, after a warm-up,
 * in phases ordered Sluice, reference, reference, Sluice so a drifting machine load is shared.
 * Issue 20's goal: `queryEndpoint` at least half the reference's throughput.
 *
 * Settings: BENCH_ENDPOINT_SECONDS (default 10, per phase: two phases each), BENCH_ENDPOINT_CONNECTIONS (default 16),
 * BENCH_ENDPOINT_CORPUS_MB (default 3: about 3 500 chunks of the generated Markdown corpus),
 * BENCH_WARMUP_SECONDS (default 15 per server, as for every load benchmark).
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import pg from 'pg';
import { withClient } from '../src/db/bootstrap.js';
import { fullTextSearchSql } from '../src/domains/endpoints/retriever.js';
import { WARM_UP_SECONDS, type Phase } from './support/api-data.js';
import { cpuSecondsOf } from './support/proc.js';
import { markdownCorpus, type CorpusFile } from './support/corpus.js';
import { appendReport, fixed, percentile, table } from './support/report.js';
import { graphql, openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer, type BenchServer } from './support/sluice.js';

const TOP_K = 5;

/** Plain-word questions over the corpus's vocabulary (bench/support/corpus.ts), asked in turn. */
const QUESTIONS = [
  'how does the sluice gate fill the basin',
  'which tenant policy applies to the endpoint',
  'river harbour tide and flood',
  'where is the copper and salt market',
  'replica shard cluster socket buffer',
  'what does the chronicle say about the harvest',
  'ranking answers from the search index',
  'timber mill and forge near the bridge',
  'parser token schema vector',
  'census survey of the valley meadow',
  'the ledger records every trade',
  'how are chunks of a document cited',
];

const QUERY = `query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) {
  passages { chunkId documentTitle score highlight } answer citations { marker chunkId documentTitle } usage { promptTokens completionTokens totalTokens } } }`;

interface Requests {
  url: string;
  requests: autocannon.Request[];
  headers: Record<string, string>;
}

export async function endpointThroughputBenchmark(command: string): Promise<void> {
  const seconds = Number(process.env.BENCH_ENDPOINT_SECONDS ?? 10);
  const connections = Number(process.env.BENCH_ENDPOINT_CONNECTIONS ?? 16);
  const corpusBytes = Number(process.env.BENCH_ENDPOINT_CORPUS_MB ?? 3) * 1e6;
  const database = await openBenchDatabase();
  let server: BenchServer | undefined;
  let reference: { server: Server; pool: pg.Pool } | undefined;
  try {
    // Inside the try: a server that fails to start must not leave the embedded PostgreSQL behind.
    server = await startBenchServer(database, { ...RAISED_LIMITS });
    const apiKey = await signUpWithKey(server.url);
    const endpoint = await createCorpusEndpoint(server.url, apiKey, [...markdownCorpus(corpusBytes, 32 * 1024)]);
    const { tenantId, datasetId, chunks } = await corpusFacts(database.ownerUrl);
    reference = await startReference(database.appUrl, tenantId, datasetId);
    const referenceUrl = `http://127.0.0.1:${(reference.server.address() as AddressInfo).port}`;

    const sluiceTarget: Requests = {
      url: server.url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      requests: QUESTIONS.map((q) => ({ method: 'POST', body: JSON.stringify({ query: QUERY, variables: { e: endpoint, q } }) })),
    };
    const referenceTarget: Requests = {
      url: referenceUrl,
      headers: {},
      requests: QUESTIONS.map((q) => ({ method: 'GET', path: `/?q=${encodeURIComponent(q)}` })),
    };
    // Both must answer the same passages for every question: a wrong path must not be measured.
    const passagesPerQuestion = await samePassages(server.url, apiKey, endpoint, referenceUrl);

    const loadBefore = loadAverage();
    console.log(`warming up (${WARM_UP_SECONDS} s each)`);
    await rotatingLoad(sluiceTarget, connections, WARM_UP_SECONDS);
    await rotatingLoad(referenceTarget, connections, WARM_UP_SECONDS);
    // Sluice, reference, reference, Sluice: a load that drifts over the run (other sessions'
    // work on this machine) weighs on both paths alike. Each phase lasts the full `seconds`:
    // autocannon counts only the answers that arrive within a phase, which costs each
    // connection half an answer per phase on average, a larger share for the slower path the
    // shorter the phase (1 s phases once showed Sluice at 4 %).
    const sluicePhases: Measured[] = [];
    const referencePhases: Measured[] = [];
    let statements = 0;
    let queries = 0;
    let cpuSeconds = 0;
    for (const path of ['sluice', 'reference', 'reference', 'sluice'] as const) {
      if (path === 'reference') {
        referencePhases.push(await rotatingLoad(referenceTarget, connections, seconds));
        continue;
      }
      const before = await sluiceCounters(server);
      const cpuBefore = await cpuSecondsOf(server.process.child.pid!);
      sluicePhases.push(await rotatingLoad(sluiceTarget, connections, seconds));
      // What one query costs the Sluice process: the figure contention disturbs least.
      cpuSeconds += (await cpuSecondsOf(server.process.child.pid!)) - cpuBefore;
      const after = await sluiceCounters(server);
      statements += after.statements - before.statements;
      queries += after.queries - before.queries;
    }
    const loadAfter = loadAverage();
    const sluice = combined(sluicePhases, 2 * seconds);
    const raw = combined(referencePhases, 2 * seconds);
    const statementsPerQuery = statements / queries;
    const statementsPerRequest = statements / sluice.total;
    const cpuPerQuery = (cpuSeconds * 1000) / queries;

    const failures = (phase: Phase) => phase.errors + phase.non2xx + phase.timeouts;
    const row = (name: string, phase: Phase) => [name, fixed(phase.rps), fixed((phase.rps / raw.rps) * 100, 0) + ' %', phase.p50, phase.p99, phase.total, failures(phase)];
    const ratio = sluice.rps / raw.rps;
    const body = [
      `Endpoint query throughput: a KEYWORD endpoint (topK ${TOP_K}, the built-in extractive model) over one dataset of ${chunks} chunks (${fixed(corpusBytes / 1e6, 0)} MB of the generated Markdown corpus, bench/support/corpus.ts, ingested through \`ingestDocuments\` with default chunking); ${QUESTIONS.length} plain-word questions (on average ${fixed(passagesPerQuestion)} passages each), rotated; closed loop (autocannon), ${connections} connections, after ${WARM_UP_SECONDS} s of warm-up each, measured in four phases of ${seconds} s ordered Sluice, reference, reference, Sluice; requests/s over both phases of a path, latency percentiles over every response of both.`,
      '',
      `**Machine load**: 2 cores shared by the load generator, both servers, PostgreSQL, and other engineers' test runs and benchmarks in the same minutes: \`uptime\` load average (1, 5, 15 min) ${loadBefore} before the warm-up and ${loadAfter} after the measurement. Absolute figures are depressed and noisy; the ratio, measured back to back in one run, is the figure to read.`,
      '',
      `- **Sluice**: \`sluice serve\` in production mode, an ADMIN API key, rate limits on (raised), audit on, operation limits on; \`queryEndpoint { passages { chunkId documentTitle score highlight } answer citations usage }\`: authentication, the endpoint lookup, policies, the retrieval statement, the extractive answer and the usage record. SQL per query: **${fixed(statementsPerQuery)} statements** (\`sluice_db_statements_total\` over the queries answered in the measured phase; ${fixed(statementsPerRequest)} per autocannon request). CPU of the Sluice process per query (user + system over the measured phase, /proc): **${fixed(cpuPerQuery)} ms**, i.e. at most ${fixed(1000 / cpuPerQuery, 0)} queries/s per core from the Node process alone.`,
      `- **Reference**: the same retrieval statement (\`fullTextSearchSql\`, src/domains/endpoints/retriever.ts) for the same questions from a bare node:http handler in the benchmark's own process (beside autocannon), as the application role, in a transaction that sets \`app.tenant_id\`, a pool of 10, the rows answered as JSON; no authentication, no answer, no usage record. Checked before the load: both return the same chunks in the same order for every question.`,
      '',
      table(['path', 'req/s (closed loop)', 'of reference', 'p50 ms', 'p99 ms', 'requests', 'errors'], [row('Sluice `queryEndpoint`', sluice), row('Reference: retrieval SQL over HTTP', raw)]),
      '',
      `- \`queryEndpoint\` reaches **${fixed(ratio * 100, 0)} %** of the reference's throughput (issue 20's goal: at least 50 %): ${ratio >= 0.5 ? 'met' : 'NOT met'} in this run.`,
    ].join('\n');
    await appendReport('Endpoint query throughput vs the retrieval SQL', database.description, command, body);
  } finally {
    if (reference) {
      await new Promise((resolve) => reference!.server.close(resolve));
      await reference.pool.end();
    }
    await server?.stop();
    await database.close();
  }
}

interface Measured {
  result: autocannon.Result;
  /** Every response's time, ms: phases are combined from these, not from their percentiles. */
  latencies: number[];
}

/** Closed loop over the target's requests, each connection asking them in turn. */
async function rotatingLoad(target: Requests, connections: number, duration: number): Promise<Measured> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url: target.url, headers: target.headers, requests: target.requests, connections, duration }, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
  return { result, latencies };
}

/** Phases of one path as one: requests over the whole time, percentiles over all responses. */
function combined(phases: Measured[], seconds: number): Phase {
  const sorted = phases.flatMap((phase) => phase.latencies).sort((a, b) => a - b);
  const sum = (pick: (result: autocannon.Result) => number) => phases.reduce((total, phase) => total + pick(phase.result), 0);
  const total = sum((result) => result.requests.total);
  return {
    rps: total / seconds,
    total,
    p50: Math.round(percentile(sorted, 50)),
    p99: Math.round(percentile(sorted, 99)),
    errors: sum((result) => result.errors),
    non2xx: sum((result) => result.non2xx),
    timeouts: sum((result) => result.timeouts),
  };
}

/** "1.23, 4.56, 7.89": the 1, 5 and 15 minute load averages, as `uptime` prints them. */
function loadAverage(): string {
  const text = execFileSync('uptime', { encoding: 'utf8' });
  return /load average:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? text.trim();
}

/** Sluice's own counters: SQL statements sent and queries answered. */
async function sluiceCounters(server: BenchServer): Promise<{ statements: number; queries: number }> {
  const sample = await server.metrics();
  return { statements: sample('sluice_db_statements_total'), queries: sample('sluice_graphql_operations_total{operation_type="query",outcome="ok"}') };
}

/** A dataset with the corpus ingested (one upload, waited for), the extractive model, a KEYWORD endpoint; its reference. */
async function createCorpusEndpoint(url: string, apiKey: string, files: CorpusFile[]): Promise<string> {
  const { createDataset } = await graphql(url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Corpus', slug: 'corpus' } }, apiKey);
  console.log(`ingesting ${files.length} generated Markdown files`);
  const job = await finished(url, apiKey, await upload(url, apiKey, createDataset.id, files));
  if (job.stage !== 'COMPLETED' || job.progress.documentsFailed > 0) throw new Error(`ingestion did not complete cleanly: ${JSON.stringify(job)}`);
  const { createModel } = await graphql(url, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: 'extractive', type: 'extractive' } }, apiKey);
  const { createEndpoint } = await graphql(
    url,
    'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { reference } }',
    { i: { name: 'Corpus', slug: 'corpus', datasetIds: [createDataset.id], modelId: createModel.id, retrieval: { topK: TOP_K, mode: 'KEYWORD' } } },
    apiKey,
  );
  return createEndpoint.reference;
}

async function upload(url: string, apiKey: string, datasetId: string, files: CorpusFile[]): Promise<string> {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: 'mutation($d: ID!, $files: [File!]) { ingestDocuments(datasetId: $d, files: $files) { id } }', variables: { d: datasetId, files: files.map(() => null) } }));
  form.set('map', JSON.stringify(Object.fromEntries(files.map((_, index) => [String(index), [`variables.files.${index}`]]))));
  files.forEach((file, index) => form.set(String(index), new Blob([file.content], { type: 'text/markdown' }), file.name));
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: form });
  const body = (await response.json()) as any;
  if (!body.data?.ingestDocuments) throw new Error(`upload failed (${response.status}): ${JSON.stringify(body.errors)}`);
  return body.data.ingestDocuments.id;
}

async function finished(url: string, apiKey: string, id: string): Promise<{ stage: string; progress: { documentsFailed: number } }> {
  for (;;) {
    const { ingestionJob } = await graphql(url, 'query($id: ID!) { ingestionJob(id: $id) { stage progress { documentsTotal documentsFailed chunksDone } } }', { id }, apiKey);
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(ingestionJob.stage)) return ingestionJob;
    // The job's progress is polled as a client would (no event to await from outside the server).
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The tenant and dataset row ids the reference needs, and the chunk count, read as the owner. */
async function corpusFacts(ownerUrl: string): Promise<{ tenantId: string; datasetId: string; chunks: number }> {
  return withClient(ownerUrl, async (client) => {
    const { rows: tenants } = await client.query<{ id: string }>('select id from tenants');
    if (tenants.length !== 1) throw new Error(`expected one tenant, found ${tenants.length}`);
    await client.query(`select set_config('app.tenant_id', $1, false)`, [tenants[0]!.id]);
    const { rows } = await client.query<{ id: string; chunks: number }>(`select d.id, (select count(*)::int from chunks c where c.dataset_id = d.id) as chunks from datasets d where slug = 'corpus'`);
    return { tenantId: tenants[0]!.id, datasetId: rows[0]!.id, chunks: rows[0]!.chunks };
  });
}

/** Every question through both paths: the same chunk ids in the same order; the mean passages per question. */
async function samePassages(url: string, apiKey: string, endpoint: string, referenceUrl: string): Promise<number> {
  let total = 0;
  for (const q of QUESTIONS) {
    const { queryEndpoint } = await graphql(url, QUERY, { e: endpoint, q }, apiKey);
    const viaApi = (queryEndpoint.passages as { chunkId: string }[]).map((passage) => passage.chunkId);
    const viaSql = ((await (await fetch(`${referenceUrl}/?q=${encodeURIComponent(q)}`)).json()) as { chunk_id: string }[]).map((row) => row.chunk_id);
    if (viaApi.join() !== viaSql.join()) throw new Error(`"${q}": queryEndpoint returned ${viaApi.join()}, the reference ${viaSql.join()}`);
    if (viaApi.length === 0) throw new Error(`"${q}": no passages; a question must find something to be a fair load`);
    total += viaApi.length;
  }
  return total / QUESTIONS.length;
}

/** The retriever's own statement over HTTP: app role, tenant set in the transaction, the rows as JSON. */
async function startReference(appUrl: string, tenantId: string, datasetId: string): Promise<{ server: Server; pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: appUrl, max: 10 });
  const server = createServer(async (req, res) => {
    const query = new URL(req.url ?? '/', 'http://reference').searchParams.get('q') ?? '';
    const { sql, params } = fullTextSearchSql({ datasetIds: [datasetId], query, topK: TOP_K, minScore: null });
    let index = 0;
    const text = sql.replace(/\?/g, () => `$${++index}`);
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
      const { rows } = await client.query(text, params);
      await client.query('commit');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rows));
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
