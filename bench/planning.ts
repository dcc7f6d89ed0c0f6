/**
 * What a prepared statement could save: PostgreSQL's planning time against its execution time
 * for the two statements of the API benchmark's page (the datasets list of
 * DatasetService.list and the documents window of DocumentService), as the app role under
 * row-level security, from EXPLAIN (ANALYZE) over BENCH_PLANNING_RUNS (default 200) runs
 * each. A prepared statement skips parsing and, once PostgreSQL settles on a generic plan,
 * planning; it saves nothing in the Node process, where the request's CPU is
 * (bench/compare.ts).
 */
import pg from 'pg';
import { seedApiData } from './support/api-data.js';
import { appendReport, fixed, median, table } from './support/report.js';
import { openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer } from './support/sluice.js';

// As src/domains/datasets/dataset.service.ts and document.service.ts send them (first page).
const STATEMENTS: [string, string, (tenantId: string, datasetIds: string[]) => unknown[]][] = [
  [
    'datasets page (20)',
    `select id, name, slug, description, language, document_count as "documentCount", chunk_count as "chunkCount", byte_count as "byteCount",
            last_ingested_at as "lastIngestedAt", created_at as "createdAt", updated_at as "updatedAt", tenant_id as "tenantId"
       from datasets where tenant_id = $1::uuid order by created_at asc, id asc limit $2`,
    (tenantId) => [tenantId, 21],
  ],
  [
    'documents of 20 datasets (10 each)',
    `select * from (
       select d.id, d.tenant_id as "tenantId", d.dataset_id as "datasetId", d.source_key as "sourceKey", d.title, d.mime_type as "mimeType",
              d.byte_count as "byteCount", d.chunk_count as "chunkCount", d.metadata, d.created_at as "createdAt", d.updated_at as "updatedAt",
              row_number() over (partition by d.dataset_id order by date_trunc('milliseconds', d.created_at), d.id) as n
         from documents d where d.tenant_id = $1::uuid and d.dataset_id = any($2::uuid[])
     ) ranked where n <= $3 order by "datasetId", n`,
    (tenantId, datasetIds) => [tenantId, `{${datasetIds.join(',')}}`, 11],
  ],
];

export async function planningBenchmark(command: string): Promise<void> {
  const runs = Number(process.env.BENCH_PLANNING_RUNS ?? 200);
  const database = await openBenchDatabase();
  const server = await startBenchServer(database, RAISED_LIMITS);
  const client = new pg.Client({ connectionString: database.appUrl });
  try {
    const apiKey = await signUpWithKey(server.url);
    const tenantId = await seedApiData(server.url, apiKey, database.ownerUrl);
    await client.connect();
    await client.query('begin');
    await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
    const datasetIds = (await client.query<{ id: string }>('select id from datasets order by created_at, id limit 20')).rows.map((row) => row.id);
    const rows: (string | number)[][] = [];
    for (const [name, sql, params] of STATEMENTS) {
      const planning: number[] = [];
      const execution: number[] = [];
      for (let run = 0; run < runs; run += 1) {
        const { rows: plan } = await client.query<{ 'QUERY PLAN': [{ 'Planning Time': number; 'Execution Time': number }] }>(
          `explain (analyze, format json) ${sql}`,
          params(tenantId, datasetIds),
        );
        planning.push(plan[0]!['QUERY PLAN'][0]['Planning Time']);
        execution.push(plan[0]!['QUERY PLAN'][0]['Execution Time']);
      }
      const planMs = median(planning);
      const execMs = median(execution);
      rows.push([name, fixed(planMs, 3), fixed(execMs, 3), `${fixed((planMs / (planMs + execMs)) * 100)} %`]);
    }
    await client.query('rollback');
    const body = [
      `Planning against execution in PostgreSQL for the API benchmark's two statements (20 datasets, 10 documents each), as the app role with the tenant set, EXPLAIN (ANALYZE) medians of ${runs} runs each. What a prepared statement could save is at most the planning column, on PostgreSQL's side.`,
      '',
      table(['statement', 'planning ms (median)', 'execution ms (median)', 'planning share'], rows),
    ].join('\n');
    await appendReport('Statement planning (prepared statements)', database.description, command, body);
  } finally {
    await client.end().catch(() => undefined);
    await server.stop();
    await database.close();
  }
}
