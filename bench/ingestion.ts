/**
 * Ingestion throughput: a generated Markdown corpus (200 MB by default) uploaded through the
 * GraphQL multipart API of a real `sluice serve` and run by its worker to COMPLETED, beside
 * the raw limit measured in the same run: PostgreSQL COPY of the very chunk rows the pipeline
 * wrote, into a table of the same shape (generated tsvector, GIN and b-tree indexes), three
 * times with the median reported (COPY alone varies by a third from run to run). A checkpoint
 * comes before the upload and before each COPY, so no run writes out another's dirty buffers,
 * and each COPY waits until autovacuum has finished with the pipeline's tables.
 *
 * Beside the seconds, the CPU seconds each side used (Sluice's process with its parser threads,
 * and every process of the embedded PostgreSQL, from /proc): on a shared, busy machine waiting
 * for a core stretches the pipeline's many statements more than one COPY, and the CPU ratio is
 * the figure that load disturbs least (not measured on a shared BENCH_DATABASE_URL server).
 *
 * Settings: BENCH_INGEST_MB (default 200), BENCH_FILE_KB (default 512), BENCH_REQUEST_MB
 * (default 20: files per multipart request add up to about this), BENCH_INGEST_REF (serve from
 * this commit, checked out in a temporary git worktree, instead of the working tree: the
 * "before" of a change; the benchmark's own code stays the working tree's), BENCH_INGEST_EMBEDDINGS
 * (dimensions, e.g. 384: the dataset names an embeddings model served by a local stand-in,
 * support/embeddings-server.ts, so the EMBEDDING stage runs too; the time a request to it was in
 * flight is left out of Sluice's, and the reference also COPYs the embedding rows written).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { withClient } from '../src/db/bootstrap.js';
import { markdownCorpus, type CorpusFile } from './support/corpus.js';
import { startEmbeddingsServer, type BenchEmbeddingsServer } from './support/embeddings-server.js';
import { cpuSecondsOf, serverCpuSecondsOf } from './support/proc.js';
import { appendReport, fixed, mb, table } from './support/report.js';
import { graphql, openBenchDatabase, signUpWithKey, startBenchServer } from './support/sluice.js';
import { copyEmbeddingsReference } from './support/vector-ingestion.js';

const CHUNK_COLUMNS = 'id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language';

interface JobResult {
  id: string;
  stage: string;
  startedAt: string;
  finishedAt: string;
  progress: { documentsTotal: number; documentsFailed: number; chunksDone: number; bytesDone: number };
}

export async function ingestionBenchmark(command: string): Promise<void> {
  const totalBytes = Number(process.env.BENCH_INGEST_MB ?? 200) * 1e6;
  const fileBytes = Number(process.env.BENCH_FILE_KB ?? 512) * 1024;
  const requestBytes = Number(process.env.BENCH_REQUEST_MB ?? 20) * 1e6;
  const ref = process.env.BENCH_INGEST_REF;
  const checkout = ref ? await checkOut(ref) : undefined;
  const embeddingDimensions = process.env.BENCH_INGEST_EMBEDDINGS ? Number(process.env.BENCH_INGEST_EMBEDDINGS) : undefined;
  const embedder = embeddingDimensions ? await startEmbeddingsServer(embeddingDimensions) : undefined;
  const database = await openBenchDatabase();
  // The stand-in embeddings server is on loopback, which the egress guard refuses by default.
  const server = await startBenchServer(database, embedder ? { SLUICE_EGRESS_PRIVATE_NETWORKS: '127.0.0.1/32' } : {}, checkout?.directory);
  try {
    // CPU is counted on a server only this benchmark uses.
    const postmaster = database.description.includes('embedded') ? await postmasterPidOf(database.ownerUrl) : undefined;
    const cpu = async () => ({
      sluice: await cpuSecondsOf(server.process.child.pid!),
      postgres: postmaster ? await serverCpuSecondsOf(postmaster) : Number.NaN,
    });
    const apiKey = await signUpWithKey(server.url);
    const slug = 'bench-corpus';
    const embeddingModelId = embedder ? await createEmbeddingsModel(server.url, apiKey, embedder, embeddingDimensions!) : undefined;
    const { createDataset } = await graphql(server.url, `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }`, { input: { name: 'Bench corpus', slug, ...(embeddingModelId ? { embeddingModelId } : {}) } }, apiKey);

    const cpuAtStart = await cpu();
    console.log(`ingesting ${fixed(mb(totalBytes), 0)} MB of generated Markdown (${fileBytes / 1024} KiB files, ~${fixed(mb(requestBytes), 0)} MB per request)`);
    // Generated before the clock starts: making the corpus is the client's work, not Sluice's
    // (about 0.5 s for 20 MB, counted as Sluice's time until 2026-12-04).
    const corpus = [...markdownCorpus(totalBytes, fileBytes)];
    // As before each COPY of the reference: no dirty buffers of the set-up left to write.
    await withClient(database.ownerUrl, checkpoint);
    const startedAt = Date.now();
    const jobIds: string[] = [];
    let batch: CorpusFile[] = [];
    let batchBytes = 0;
    let textBytes = 0;
    for (const file of corpus) {
      batch.push(file);
      batchBytes += Buffer.byteLength(file.content);
      textBytes += Buffer.byteLength(file.content);
      if (batchBytes >= requestBytes) {
        jobIds.push(await upload(server.url, apiKey, createDataset.id, batch));
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0) jobIds.push(await upload(server.url, apiKey, createDataset.id, batch));
    const uploadSeconds = (Date.now() - startedAt) / 1000;
    console.log(`uploaded in ${fixed(uploadSeconds)} s as ${jobIds.length} jobs; waiting for the worker`);

    const jobs: JobResult[] = [];
    for (const id of jobIds) jobs.push(await finished(server.url, apiKey, id));
    // Ends when the last job finished by the server's clock (the same machine's), not when a
    // poll every 250 ms happened to see it.
    const endToEndSeconds = (Math.max(...jobs.map((job) => Date.parse(job.finishedAt))) - startedAt) / 1000;
    const cpuAtEnd = await cpu();
    const pipelineCpu = { sluice: cpuAtEnd.sluice - cpuAtStart.sluice, postgres: cpuAtEnd.postgres - cpuAtStart.postgres };
    const peakRss = await server.peakRss();

    const failed = jobs.filter((job) => job.stage !== 'COMPLETED' || job.progress.documentsFailed > 0);
    if (failed.length > 0) throw new Error(`jobs did not complete cleanly: ${JSON.stringify(failed)}`);
    const chunks = jobs.reduce((sum, job) => sum + job.progress.chunksDone, 0);
    const documents = jobs.reduce((sum, job) => sum + job.progress.documentsTotal, 0);
    const pipelineSeconds = (Math.max(...jobs.map((job) => Date.parse(job.finishedAt))) - Math.min(...jobs.map((job) => Date.parse(job.startedAt)))) / 1000;
    const { dataset } = await graphql(server.url, `query($id: ID!) { dataset(id: $id) { chunkCount documentCount } }`, { id: createDataset.id }, apiKey);
    if (dataset.chunkCount !== chunks || dataset.documentCount !== documents) {
      throw new Error(`dataset counts ${JSON.stringify(dataset)} differ from the jobs' (${documents} documents, ${chunks} chunks)`);
    }

    console.log('COPY of the same chunk rows (the reference)');
    const copy = await copyReference(database.ownerUrl, slug, async () => (await cpu()).postgres);
    if (copy.rows !== chunks) throw new Error(`COPY moved ${copy.rows} rows, the pipeline wrote ${chunks}`);

    const embeddings = embedder ? await embeddingsReference(database.ownerUrl, embeddingModelId!, chunks, async () => (await cpu()).postgres) : undefined;
    // The embedding server's own time is not Sluice's (issue 19): left out where a request was in flight.
    const busy = embedder?.busySeconds() ?? 0;
    const sluiceSeconds = endToEndSeconds - busy;
    const referenceSeconds = copy.seconds + (embeddings?.seconds ?? 0);
    const referenceCpu = copy.cpuSeconds + (embeddings?.cpuSeconds ?? 0);

    const rate = (seconds: number) => [fixed(mb(textBytes) / seconds), fixed(chunks / seconds, 0)];
    const ratio = referenceSeconds / sluiceSeconds;
    const cpuRatio = referenceCpu / (pipelineCpu.sluice + pipelineCpu.postgres);
    const served = embedder?.stats();
    const body = [
      ...(ref ? [`Server from ${ref} (${checkout!.sha}), the benchmark from the working tree.`, ''] : []),
      `Ingestion: ${fixed(mb(textBytes))} MB of generated Markdown in ${documents} files (${fileBytes / 1024} KiB each), uploaded as ${jobIds.length} multipart requests of ${fixed(mb(textBytes / jobIds.length))} MB on average (one job each); default chunking (1000 characters, 150 overlap), giving ${chunks} chunks (${fixed(mb(copy.chunkBytes))} MB of chunk text with the overlaps). Worker inline in the API process (SLUICE_WORKER_CONCURRENCY 2; one dataset's jobs run in order).`,
      ...(embedder
        ? [
            '',
            `With embeddings: the dataset names an \`openai-compatible-embeddings\` model (${embeddingDimensions} dimensions, the default batch size) served by the benchmark's stand-in on 127.0.0.1 (bench/support/embeddings-server.ts: the real \`/v1/embeddings\` protocol, hashed character-trigram vectors; no model server is reachable here). It answered ${served!.requests} requests for ${served!.inputs} chunks; the ${fixed(busy)} s during which a request was in flight are left out of Sluice's time ("minus the embedding server"). The reference adds COPY of the ${embeddings!.rows} embedding rows (${fixed(mb(embeddings!.bytes))} MB binary) into an empty table \`like chunk_embeddings including all\`.`,
          ]
        : []),
      '',
      table(
        ['measured', 'seconds', 'MB/s of text', 'chunks/s', 'CPU seconds: Sluice + PostgreSQL'],
        [
          ['Sluice end to end: first upload → last job COMPLETED', fixed(endToEndSeconds), ...rate(endToEndSeconds), `${fixed(pipelineCpu.sluice)} + ${fixed(pipelineCpu.postgres)}`],
          ...(embedder ? [['Sluice end to end minus the embedding server\'s time', fixed(sluiceSeconds), ...rate(sluiceSeconds), '']] : []),
          ['Sluice pipeline only: first job started → last finished', fixed(pipelineSeconds), ...rate(pipelineSeconds), ''],
          [`Reference: COPY of the same chunk rows (tsvector + GIN, one transaction; the median of ${COPY_RUNS} runs: ${copy.allSeconds.map((seconds) => fixed(seconds)).join(', ')} s)`, fixed(copy.seconds), ...rate(copy.seconds), `${fixed(copy.cpuSeconds)} (PostgreSQL)`],
          ...(embeddings ? [['Reference: COPY of the chunk rows, then of the embedding rows', fixed(referenceSeconds), ...rate(referenceSeconds), `${fixed(referenceCpu)} (PostgreSQL)`]] : []),
        ],
      ),
      '',
      embedder
        ? `- Sluice end to end, minus the embedding server's time, reaches **${fixed(ratio * 100, 0)} %** of the COPY rate of chunks and embeddings (end to end with it: ${fixed((referenceSeconds / endToEndSeconds) * 100, 0)} %).`
        : `- Sluice end to end reaches **${fixed(ratio * 100, 0)} %** of the COPY rate (pipeline alone: ${fixed((copy.seconds / pipelineSeconds) * 100, 0)} %).`,
      `- In CPU: COPY used **${fixed(cpuRatio * 100, 0)} %** of the CPU seconds Sluice and PostgreSQL used end to end (uploads and the benchmark's polling included${embedder ? '; the embedding server runs in the benchmark process, not counted' : ''}).`,
      `- Peak resident memory of the Sluice process (API + worker, VmHWM): **${fixed(peakRss / 2 ** 20, 0)} MiB** (PostgreSQL's own processes not counted).`,
    ].join('\n');
    await appendReport(embedder ? 'Ingestion throughput with embeddings vs COPY' : 'Ingestion throughput vs COPY', database.description, command, body);
  } finally {
    await server.stop();
    await database.close();
    await embedder?.close();
    await checkout?.remove();
  }
}

async function createEmbeddingsModel(url: string, apiKey: string, embedder: BenchEmbeddingsServer, dimensions: number): Promise<string> {
  const { createModel } = await graphql(
    url,
    'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }',
    { input: { name: 'Bench embeddings', type: 'openai-compatible-embeddings', config: { baseUrl: embedder.baseUrl, model: 'bench-trigrams', dimensions } } },
    apiKey,
  );
  return createModel.id;
}

/** Checks every chunk got its vector, then times COPY of the embedding rows (support/vector-ingestion.ts). */
async function embeddingsReference(ownerUrl: string, modelGlobalId: string, chunks: number, postgresCpu: () => Promise<number>) {
  const modelId = Buffer.from(modelGlobalId, 'base64').toString().split(':')[1]!;
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query('select count(*)::int as n from chunk_embeddings where model_id = $1', [modelId]);
    if (rows[0].n !== chunks) throw new Error(`${rows[0].n} embedding rows for ${chunks} chunks`);
    const cpuBefore = await postgresCpu();
    const copy = await copyEmbeddingsReference(client, modelId);
    console.log(`  COPY of ${copy.rows} embedding rows in ${fixed(copy.seconds)} s`);
    return { ...copy, cpuSeconds: (await postgresCpu()) - cpuBefore };
  });
}

/** `ref` in a temporary git worktree sharing this checkout's node_modules (as bench/compare.ts does). */
async function checkOut(ref: string): Promise<{ directory: string; sha: string; remove(): Promise<void> }> {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { encoding: 'utf8' }).trim();
  const directory = await mkdtemp(path.join(os.tmpdir(), 'sluice-ingest-ref-'));
  execFileSync('git', ['worktree', 'add', '--detach', directory, ref], { stdio: 'ignore' });
  await symlink(path.resolve('node_modules'), path.join(directory, 'node_modules'));
  return {
    directory,
    sha,
    remove: async () => {
      execFileSync('git', ['worktree', 'remove', '--force', directory], { stdio: 'ignore' });
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The server's postmaster: the parent of any backend. */
async function postmasterPidOf(url: string): Promise<number> {
  // Read while the backend lives: it exits when its connection closes.
  return withClient(url, async (client) => {
    const backend = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const stat = await readFile(`/proc/${backend}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  });
}

async function upload(url: string, apiKey: string, datasetId: string, files: CorpusFile[]): Promise<string> {
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: 'mutation($datasetId: ID!, $files: [File!]) { ingestDocuments(datasetId: $datasetId, files: $files) { id } }',
      variables: { datasetId, files: files.map(() => null) },
    }),
  );
  form.set('map', JSON.stringify(Object.fromEntries(files.map((_, index) => [String(index), [`variables.files.${index}`]]))));
  files.forEach((file, index) => form.set(String(index), new Blob([file.content], { type: 'text/markdown' }), file.name));
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: form });
  const body = (await response.json()) as any;
  if (!body.data?.ingestDocuments) throw new Error(`upload failed (${response.status}): ${JSON.stringify(body.errors)}`);
  return body.data.ingestDocuments.id;
}

async function finished(url: string, apiKey: string, id: string): Promise<JobResult> {
  let reported = 0;
  for (;;) {
    const { ingestionJob } = await graphql<{ ingestionJob: JobResult & { progress: { percent: number } } }>(
      url,
      'query($id: ID!) { ingestionJob(id: $id) { id stage startedAt finishedAt progress { documentsTotal documentsFailed chunksDone bytesDone percent } } }',
      { id },
      apiKey,
    );
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(ingestionJob.stage)) return ingestionJob;
    if (Date.now() - reported > 10_000) {
      console.log(`  job ${id.slice(0, 12)}…: ${ingestionJob.stage} ${fixed(ingestionJob.progress.percent, 0)} %`);
      reported = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** COPY runs of the reference; the median is reported. */
const COPY_RUNS = 3;

/**
 * A checkpoint, so a run starts with no dirty buffers of the one before to write (where the
 * role may: a shared BENCH_DATABASE_URL server's owner need not).
 */
async function checkpoint(client: pg.Client): Promise<void> {
  await client.query('checkpoint').catch(() => undefined);
}

/**
 * Waits until no autovacuum worker runs in the database (10 minutes at most): the pipeline's
 * inserts set autovacuum going on the chunks and statistics tables, and a COPY timed beside it
 * shares the cores with it (2026-12-04: COPY used 50.7 CPU seconds in 46.6 s, more than one core
 * of its own, after a pipeline that finished sooner). Returns the seconds waited.
 */
async function autovacuumIdle(client: pg.Client): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + 600_000;
  for (;;) {
    const { rows } = await client.query(`select count(*)::int as n from pg_stat_activity where backend_type = 'autovacuum worker' and datname = current_database()`);
    if (rows[0].n === 0 || Date.now() > deadline) return (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Exports the dataset's chunk rows, then times COPY of them into an empty table shaped like
 * `chunks`, COPY_RUNS times (the median reported, each run's time listed).
 */
async function copyReference(
  ownerUrl: string,
  datasetSlug: string,
  postgresCpu: () => Promise<number>,
): Promise<{ seconds: number; cpuSeconds: number; rows: number; chunkBytes: number; allSeconds: number[] }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-copy-'));
  const file = path.join(directory, 'chunks.bin');
  try {
    return await withClient(ownerUrl, async (client) => {
      const selection = `select ${CHUNK_COLUMNS} from chunks where dataset_id = (select id from datasets where slug = '${datasetSlug}')`;
      await pipeline(client.query(copyTo(`copy (${selection}) to stdout (format binary)`)), createWriteStream(file));
      const { rows } = await client.query(`select coalesce(sum(octet_length(content)), 0)::bigint as bytes from chunks`);
      await client.query('create table bench_copy_chunks (like chunks including all)');
      try {
        const { rows: indexes } = await client.query(`select indexname from pg_indexes where tablename = 'bench_copy_chunks' and indexdef like '%USING gin%'`);
        const runs: { seconds: number; cpuSeconds: number; rows: number }[] = [];
        for (let run = 0; run < COPY_RUNS; run++) {
          await client.query('truncate bench_copy_chunks');
          const waited = await autovacuumIdle(client);
          if (waited > 0.5) console.log(`  waited ${fixed(waited)} s for autovacuum to finish`);
          await checkpoint(client);
          const cpuBefore = await postgresCpu();
          const started = performance.now();
          await client.query('begin');
          const copy = client.query(copyFrom(`copy bench_copy_chunks (${CHUNK_COLUMNS}) from stdin (format binary)`));
          await pipeline(createReadStream(file), copy);
          // The pipeline merges the GIN pending list before it completes; so does the reference.
          for (const { indexname } of indexes) await client.query(`select gin_clean_pending_list('${indexname}'::regclass)`);
          await client.query('commit');
          const seconds = (performance.now() - started) / 1000;
          runs.push({ seconds, cpuSeconds: (await postgresCpu()) - cpuBefore, rows: Number(copy.rowCount) });
          console.log(`  COPY of ${copy.rowCount} rows (${fixed(mb((await stat(file)).size))} MB binary) in ${fixed(seconds)} s`);
        }
        // The median run: COPY alone moved by up to 40 % from one run to the next on a quiet machine (2026-12-04).
        const median = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)]!;
        return { ...median, chunkBytes: Number(rows[0].bytes), allSeconds: runs.map((run) => run.seconds) };
      } finally {
        await client.query('drop table if exists bench_copy_chunks');
      }
    });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
