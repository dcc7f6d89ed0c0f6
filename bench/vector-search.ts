/**
 * Vector search latency and the cost of writing embeddings (issue 19, "Measure"): N chunks
 * (default 1 000 000) in one dataset, each with a D-dimensional unit embedding (default 384)
 * drawn around one of K random centroids (default 2 000) with noise, made in Node and written
 * by binary COPY (support/vector-copy.ts: 1 M in minutes).
 *
 * 1. Ingestion: the first BENCH_VECTOR_INGEST chunks embedded by batched inserts as the app
 *    role beside COPY of the same rows (bench/support/vector-ingestion.ts), then removed.
 * 2. Exact search as the dataset grows through BENCH_VECTOR_SIZES: plain SQL over `real[]`
 *    (stops once a question takes over BENCH_VECTOR_STOP_MS) and, where the `vector`
 *    extension exists, pgvector's `<=>` without index (at N it asks every question for its top
 *    100: the ground truth and the separation below, from one scan each).
 * 3. At N, with pgvector: the separation of the exact top 10 from ranks 11 to 100; HNSW
 *    (Sluice's own m and ef_construction by default, src/db/vector-index.ts) build time and size, the plan as run (EXPLAIN
 *    ANALYZE as the app role), latency at each ef_search with recall@10 against exact and the
 *    similarity the answers give up, and inserts with the index present.
 *
 * Settings: BENCH_VECTOR_CHUNKS, BENCH_VECTOR_DIMENSIONS, BENCH_VECTOR_CLUSTERS,
 * BENCH_VECTOR_NOISE (noise length / centroid length, default 0.8), BENCH_VECTOR_SPECTRUM
 * (noise variance ∝ i^−spectrum, default 0: isotropic, the hard case; 1 is closer to real
 * embeddings), BENCH_VECTOR_TOPICS (default 0: independent centroids, all nearly orthogonal;
 * else centroids grouped in that many topics), BENCH_VECTOR_TOPIC_SPREAD (default 0.8),
 * BENCH_VECTOR_M (24), BENCH_VECTOR_EF_CONSTRUCTION (128: both Sluice's, HNSW_BUILD), BENCH_VECTOR_EF_SEARCH
 * (comma-separated, default 40,100,200,400), BENCH_VECTOR_QUERIES
 * (default 50), BENCH_VECTOR_SIZES (comma-separated), BENCH_VECTOR_STOP_MS (default 5000),
 * BENCH_VECTOR_SQL_UP_TO (largest size for plain-SQL exact, default 200 000: ~80 µs a row),
 * BENCH_VECTOR_INGEST (default 100 000), BENCH_VECTOR_BATCH (default 64, the embeddings
 * model's default batchSize), BENCH_VECTOR_BUILD_MEMORY (default 4GB),
 * BENCH_VECTOR_BUILD_WORKERS (parallel maintenance workers, default 1).
 */
import os from 'node:os';
import pg from 'pg';
import { appendReport, fixed, mb, percentile, table } from './support/report.js';
import { graphql, openBenchDatabase, signUpWithKey, startBenchServer } from './support/sluice.js';
import { firstChunkIds, generateChunks, generateEmbeddings, openDatasetAsOwner, type VectorDataset } from './support/vector-data.js';
import { ask, exactPgvector, exactSql, explain, hnsw, hnswIndexSql, measure, TOP_K, type Measured } from './support/vector-engines.js';
import { HNSW_BUILD } from '../src/db/vector-index.js';
import { DEFAULT_VECTOR_SEARCH } from '../src/domains/endpoints/semantic-retriever.js';
import { copyEmbeddingsReference, insertEmbeddings } from './support/vector-ingestion.js';
import { clusterCentroids, clusterMember, largestWithin, meanRecallAt, noiseAmplitudes, recallAt, seededRandom, separation, similarityShortfall, sizeSteps } from './support/vectors.js';

const LADDER = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000];
const LATENCY_GOAL_MS = 50;
/** How deep the exact answers at N go, for how far the 10th neighbour stands from the 11th and the 100th. */
const PROFILE_DEPTH = 100;

const setting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export async function vectorsBenchmark(command: string): Promise<void> {
  const chunkCount = setting('BENCH_VECTOR_CHUNKS', 1_000_000);
  const dimensions = setting('BENCH_VECTOR_DIMENSIONS', 384);
  const clusters = setting('BENCH_VECTOR_CLUSTERS', 2_000);
  const noiseRatio = setting('BENCH_VECTOR_NOISE', 0.8);
  const spectrum = setting('BENCH_VECTOR_SPECTRUM', 0);
  const topics = setting('BENCH_VECTOR_TOPICS', 0);
  const topicSpread = setting('BENCH_VECTOR_TOPIC_SPREAD', 0.8);
  const HNSW = {
    m: setting('BENCH_VECTOR_M', HNSW_BUILD.m),
    efConstruction: setting('BENCH_VECTOR_EF_CONSTRUCTION', HNSW_BUILD.efConstruction),
    efSearch: (process.env.BENCH_VECTOR_EF_SEARCH ?? '40,100,200,400').split(',').map(Number),
  };
  const queryCount = setting('BENCH_VECTOR_QUERIES', 50);
  const stopMs = setting('BENCH_VECTOR_STOP_MS', 5_000);
  const sqlUpTo = setting('BENCH_VECTOR_SQL_UP_TO', 200_000);
  const ingestCount = Math.min(chunkCount, setting('BENCH_VECTOR_INGEST', 100_000));
  const batchSize = setting('BENCH_VECTOR_BATCH', 64);
  const sizes = sizeSteps(chunkCount, process.env.BENCH_VECTOR_SIZES ? process.env.BENCH_VECTOR_SIZES.split(',').map(Number) : LADDER);

  const random = seededRandom(19);
  const centroids = clusterCentroids(random, dimensions, clusters, topics, topicSpread);
  const amplitudes = noiseAmplitudes(dimensions, noiseRatio, spectrum);
  const questions = Array.from({ length: queryCount }, () => {
    const cluster = Math.floor(random() * clusters);
    return clusterMember(random, centroids[cluster]!, amplitudes, cluster);
  });
  // The stored vectors' own stream: the same questions whatever their number.
  const dataRandom = seededRandom(23);

  // The machine is shared: its load (1-minute average) at each stage goes into the report.
  const loads: [string, number][] = [];
  const database = await openBenchDatabase();
  const owner = new pg.Client({ connectionString: database.ownerUrl });
  const app = new pg.Client({ connectionString: database.appUrl });
  try {
    // The server only signs the tenant up and makes the dataset and two embeddings models.
    const server = await startBenchServer(database);
    try {
      const apiKey = await signUpWithKey(server.url);
      await graphql(server.url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Vectors', slug: 'vectors' } }, apiKey);
      for (const name of ['searched', 'written']) {
        const config = { baseUrl: 'https://api.openai.com/v1', model: `bench-${name}`, dimensions };
        await graphql(server.url, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name, type: 'openai-compatible-embeddings', config } }, apiKey);
      }
    } finally {
      await server.stop();
    }
    await owner.connect();
    await app.connect();
    const { tenantId, datasetId } = await openDatasetAsOwner(owner, 'vectors');
    // GraphQL gives global ids; the rows' ids by name.
    const modelId = async (name: string) => (await owner.query<{ id: string }>('select id from models where name = $1', [name])).rows[0]!.id;
    const data: VectorDataset = { tenantId, datasetId, modelId: await modelId('searched'), dimensions };
    const writtenModelId = await modelId('written');

    const pgvector = await owner.query('create extension if not exists vector').then(
      () => true,
      (error: Error) => (console.log(`  no pgvector (${error.message}): exact search in plain SQL only`), false),
    );
    const version = pgvector ? (await owner.query(`select extversion from pg_extension where extname = 'vector'`)).rows[0].extversion : null;

    console.log(`generating ${chunkCount} chunks in SQL`);
    loads.push(['start', os.loadavg()[0]!]);
    let started = performance.now();
    await generateChunks(owner, tenantId, datasetId, chunkCount);
    console.log(`  done in ${fixed((performance.now() - started) / 1000)} s`);

    console.log(`ingestion: ${ingestCount} embeddings by batched insert (${batchSize} a batch), then COPY of the same rows`);
    const chunkIds = await firstChunkIds(owner, ingestCount);
    const target = { appUrl: database.appUrl, tenantId, datasetId, modelId: writtenModelId, dimensions };
    const insertSeconds = await insertEmbeddings(target, chunkIds, centroids, amplitudes, batchSize, 7);
    const copy = await copyEmbeddingsReference(owner, writtenModelId);
    if (copy.rows !== ingestCount) throw new Error(`COPY moved ${copy.rows} rows, the inserts wrote ${ingestCount}`);
    console.log(`  inserts ${fixed(insertSeconds)} s, COPY ${fixed(copy.seconds)} s`);
    await owner.query('truncate chunk_embeddings');

    const exact: Measured[] = [];
    const byPgvector: Measured[] = [];
    let embedded = 0;
    let exactStopped = false;
    const summary = (m: Measured) => `${m.samples.length} questions, p50/p95/p99 ${[50, 95, 99].map((q) => fixed(p(m.samples, q))).join(' / ')} ms`;
    for (const size of sizes) {
      started = performance.now();
      await generateEmbeddings(owner, { ...data, centroids, amplitudes, random: dataRandom }, embedded, size);
      embedded = size;
      console.log(`${size} embeddings (+${fixed((performance.now() - started) / 1000)} s)`);
      const last = size === chunkCount;
      if (last) loads.push([`exact at ${size}`, os.loadavg()[0]!]);
      if (pgvector) {
        // At N every question, top 100: the ground truth and the separation below from one scan each.
        byPgvector.push(await measure(app, exactPgvector(data, last ? PROFILE_DEPTH : TOP_K), data, size, questions, { all: last, budgetMs: 15_000, least: 5 }));
        console.log(`  pgvector exact: ${summary(byPgvector.at(-1)!)}`);
      }
      if (!exactStopped && size <= sqlUpTo) {
        exact.push(await measure(app, exactSql(data), data, size, questions, { all: false, budgetMs: 20_000, least: 5 }));
        console.log(`  SQL exact: ${summary(exact.at(-1)!)}`);
        exactStopped = Math.max(...exact.at(-1)!.samples) > stopMs;
      }
    }

    // How distinct the exact top 10 is from what follows (before the index exists: exact).
    const profile = pgvector ? separation(byPgvector.at(-1)!.scores) : null;
    if (profile) console.log(`  exact similarity at ranks 1/10/11/100: ${[profile.at1, profile.at10, profile.at11, profile.at100].map((x) => fixed(x, 4)).join(' / ')}`);

    const hnswRows: { measured: Measured; recall: number; worst: number; shortfall: number; lost: number }[] = [];
    let plan = '';
    let build: { seconds: number; bytes: number; workers: number; memory: string } | null = null;
    let indexedInsert: { rows: number; seconds: number } | null = null;
    if (pgvector) {
      const memory = process.env.BENCH_VECTOR_BUILD_MEMORY ?? '4GB';
      const workers = setting('BENCH_VECTOR_BUILD_WORKERS', 1);
      console.log(`building HNSW (m ${HNSW.m}, ef_construction ${HNSW.efConstruction}) over ${chunkCount} vectors`);
      await owner.query(`set maintenance_work_mem = '${memory}'`);
      await owner.query(`set max_parallel_maintenance_workers = ${workers}`);
      loads.push(['HNSW build', os.loadavg()[0]!]);
      started = performance.now();
      await owner.query(hnswIndexSql(data, HNSW.m, HNSW.efConstruction));
      const seconds = (performance.now() - started) / 1000;
      const bytes = Number((await owner.query(`select pg_relation_size('bench_chunk_embeddings_hnsw') as bytes`)).rows[0].bytes);
      build = { seconds, bytes, workers, memory };
      console.log(`  built in ${fixed(seconds)} s, ${fixed(bytes / 2 ** 20, 0)} MiB`);
      await owner.query('analyze chunk_embeddings');
      const truth = byPgvector.at(-1)!.answers;
      const engines = HNSW.efSearch.map((efSearch) => hnsw(data, efSearch));
      for (const engine of engines) {
        const planned = await explain(app, engine, data, questions[0]!);
        if (!planned.includes('bench_chunk_embeddings_hnsw')) throw new Error(`the HNSW index is not used:\n${planned}`);
        for (const question of questions.slice(0, 20)) await ask(app, engine, data, question);
      }
      // The plan as run, as the app role under RLS, at the app's default ef_search (or the first).
      const shown = engines.find((engine) => engine.name === hnsw(data, DEFAULT_VECTOR_SEARCH.hnswEfSearch).name) ?? engines[0]!;
      // The question's literal (thousands of characters) elided.
      plan = `${shown.name}:\n${(await explain(app, shown, data, questions[1]!, true)).replace(/'\[[^\]]*\]'/g, `'[…${dimensions} numbers…]'`)}`;
      console.log(plan);
      loads.push(['HNSW questions', os.loadavg()[0]!]);
      // Interleaved, each ef_search first for an equal share of the questions: all see the same cache and load.
      const measured: Measured[] = engines.map((engine) => ({ engine: engine.name, size: chunkCount, samples: [], answers: [], scores: [] }));
      for (const [index, question] of questions.entries()) {
        for (const [step] of engines.entries()) {
          const which = (index + step) % engines.length;
          const { ids, scores, ms } = await ask(app, engines[which]!, data, question);
          measured[which]!.samples.push(ms);
          measured[which]!.answers.push(ids);
          measured[which]!.scores.push(scores);
        }
      }
      const truthScores = byPgvector.at(-1)!.scores;
      for (const m of measured) {
        const recalls = truth.map((ids, index) => recallAt(TOP_K, ids, m.answers[index]!));
        const shortfall = similarityShortfall(TOP_K, truthScores, m.scores);
        hnswRows.push({ measured: m, recall: meanRecallAt(TOP_K, truth, m.answers), worst: Math.min(...recalls), shortfall, lost: recalls.filter((r) => r < 0.5).length });
        console.log(`  ${m.engine}: ${summary(m)}, recall@10 ${fixed(hnswRows.at(-1)!.recall, 3)}, worst ${fixed(Math.min(...recalls), 1)}, similarity shortfall ${fixed(shortfall, 4)}`);
      }
      // What the embedding stage pays once the index exists: every row joins the graph.
      const rows = Math.min(1_000, chunkCount);
      const indexedSeconds = await insertEmbeddings(target, await firstChunkIds(owner, rows), centroids, amplitudes, batchSize, 11);
      indexedInsert = { rows, seconds: indexedSeconds };
    }

    loads.push(['end', os.loadavg()[0]!]);
    const shape =
      topics === 0 ? `${clusters} independent random centroids (nearly orthogonal to each other)` : `${clusters} centroids in ${topics} topics (each a topic's direction plus a random one of length ${topicSpread})`;
    const noise = spectrum === 0 ? 'isotropic: every coordinate alike' : `decaying spectrum: coordinate i's variance ∝ i^−${spectrum}, rotated per cluster`;
    const context = `${chunkCount} chunks in one dataset, each with a ${dimensions}-dimensional unit embedding (\`real[]\`) around one of ${shape}, uniform noise per coordinate of length ${noiseRatio} × the centroid's (${noise}), made in Node and written by binary COPY; ${queryCount} questions drawn the same way (fixed seed), top ${TOP_K}. Each question is one transaction as the app role under row-level security, filtered by dataset, model and dimensions, one at a time; slow sizes ask fewer questions (column "n"). PostgreSQL settings as the server has them (shared_buffers, work_mem, jit, max_parallel_workers_per_gather). Load average (1 minute; ${os.availableParallelism()} cores shared with other work) as each stage began: ${loads.map(([stage, load]) => `${stage} ${fixed(load, 1)}`).join(', ')}.`;
    const stats = (m: Measured) => [50, 95, 99].map((q) => fixed(p(m.samples, q)));
    const agreement = (m: Measured) => {
      const reference = byPgvector.find((row) => row.size === m.size);
      if (!reference) return 'n/a';
      const shared = Math.min(reference.answers.length, m.answers.length);
      return fixed(meanRecallAt(TOP_K, reference.answers.slice(0, shared), m.answers.slice(0, shared)), 3);
    };
    const limit = largestWithin(exact.map((m) => ({ size: m.size, value: p(m.samples, 95) })), LATENCY_GOAL_MS);
    const pgvectorLimit = largestWithin(byPgvector.map((m) => ({ size: m.size, value: p(m.samples, 95) })), LATENCY_GOAL_MS);
    const body = [
      context,
      '',
      table(
        ['chunks', 'engine', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'top 10 = pgvector exact'],
        [...exact, ...byPgvector].sort((a, b) => a.size - b.size).map((m) => [m.size, m.engine, m.samples.length, ...stats(m), m.engine.startsWith('exact, pgvector') ? '(itself)' : agreement(m)]),
      ),
      '',
      exact.length === 0
        ? `- Exact search in plain SQL not measured (no size up to BENCH_VECTOR_SQL_UP_TO, ${sqlUpTo}).`
        : `- Exact search in plain SQL stays within p95 ≤ ${LATENCY_GOAL_MS} ms up to **${limit === null ? `fewer than ${exact[0]!.size}` : limit}** chunks in a dataset${exactStopped ? `; it was no longer measured after a question took over ${stopMs / 1000} s` : ''}.`,
      ...(pgvector ? [`- pgvector's exact scan (no index) stays within it up to **${pgvectorLimit === null ? `fewer than ${byPgvector[0]?.size}` : pgvectorLimit}** chunks.`] : ['- No pgvector on this server: no HNSW figures.']),
      ...(build
        ? [
            '',
            `HNSW (pgvector ${version}) on \`embedding::vector(${dimensions})\`, partial on \`dimensions = ${dimensions}\`, m ${HNSW.m}, ef_construction ${HNSW.efConstruction}: built over ${chunkCount} rows in **${fixed(build.seconds)} s** (maintenance_work_mem ${build.memory}, ${build.workers} parallel worker${build.workers === 1 ? '' : 's'}), ${fixed(build.bytes / 2 ** 20, 0)} MiB. Queries as the app's (similarity beside the id), with \`hnsw.iterative_scan = relaxed_order\`, after 20 untimed each, the ef_search values interleaved (each first for an equal share of the questions); recall@10 against pgvector's exact answers to the same ${queryCount} questions. "Similarity shortfall": the exact top 10's mean cosine similarity minus that of the 10 returned, averaged over questions (near 0: near-equals swapped in; large: the search ended among the wrong vectors). "Lost": questions with recall@10 under 0.5.`,
            '',
            ...(profile
              ? [
                  `Separation of the exact neighbours (pgvector exact top 100 of each question, mean): similarity ${fixed(profile.at1, 4)} at rank 1, ${fixed(profile.at10, 4)} at 10, ${fixed(profile.at11, 4)} at 11, ${fixed(profile.at100, 4)} at 100; the 10th is ahead of the 11th by ${fixed(profile.gap10to11, 4)} on average.`,
                  '',
                ]
              : []),
            table(
              ['engine', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'recall@10 (mean)', 'recall@10 (worst question)', 'lost', 'similarity shortfall'],
              [
                ...hnswRows.map(({ measured, recall, worst, lost, shortfall }) => [measured.engine, measured.samples.length, ...stats(measured), fixed(recall, 3), fixed(worst, 1), lost, fixed(shortfall, 4)]),
                [`Reference: ${byPgvector.at(-1)!.engine}`, byPgvector.at(-1)!.samples.length, ...stats(byPgvector.at(-1)!), '1.000', '1.0', 0, '0'],
              ],
            ),
            '',
            'The plan as run (EXPLAIN ANALYZE, BUFFERS, as the app role under row-level security, second question):',
            '',
            '```',
            plan,
            '```',
          ]
        : []),
    ].join('\n');
    await appendReport('Vector search latency', `${database.description}${version ? `, pgvector ${version}` : ''}`, command, body);

    const rate = (rows: number, seconds: number) => [fixed(seconds), fixed(rows / seconds, 0), fixed(mb((rows * dimensions * 4) / seconds))];
    const ingestion = [
      `Writing embeddings: ${ingestCount} ${dimensions}-dimensional vectors (${fixed(mb(ingestCount * dimensions * 4))} MB as float4) for existing chunks of one dataset (of ${chunkCount}), into an empty \`chunk_embeddings\` with no vector index. Inserts: ${batchSize} rows per statement, the EMBEDDING stage's own (\`unnest\` of ids and vector literals joined to \`chunks\`, \`on conflict do nothing\`), one transaction per batch (without the stage's job lock and usage record), as the app role under row-level security (foreign keys checked); the vectors are made before each batch's clock starts (no embedding server time). Reference: COPY (binary, ${fixed(mb(copy.bytes))} MB) of the rows the inserts wrote, one transaction, into an empty table \`like chunk_embeddings including all\` (same b-tree indexes, no foreign keys, no RLS).`,
      '',
      table(
        ['measured', 'seconds', 'vectors/s', 'MB/s of float4'],
        [
          [`Batched inserts (${batchSize} a batch)`, ...rate(ingestCount, insertSeconds)],
          ['Reference: COPY of the same rows', ...rate(ingestCount, copy.seconds)],
          ...(indexedInsert ? [[`Batched inserts with the HNSW index present (${indexedInsert.rows} rows, ${chunkCount} already indexed)`, ...rate(indexedInsert.rows, indexedInsert.seconds)]] : []),
        ],
      ),
      '',
      `- Batched inserts reach **${fixed((copy.seconds / insertSeconds) * 100, 0)} %** of the COPY rate${indexedInsert ? `; with the HNSW index, ${fixed((copy.seconds / ingestCount / (indexedInsert.seconds / indexedInsert.rows)) * 100, 0)} %` : ''}.`,
    ].join('\n');
    await appendReport('Writing embeddings vs COPY', database.description, command, ingestion);
  } finally {
    await app.end().catch(() => undefined);
    await owner.end().catch(() => undefined);
    await database.close();
  }
}

function p(samples: number[], q: number): number {
  return percentile([...samples].sort((a, b) => a - b), q);
}
