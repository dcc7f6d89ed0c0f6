/**
 * The EMBEDDING stage and re-embedding (issue 19, item 3), through the real API, a real job
 * worker and real PostgreSQL. The embeddings provider is fake-openai: a TEST DOUBLE for a
 * third-party model server, a real HTTP server on 127.0.0.1 speaking the real `/v1/embeddings`
 * protocol (hashed character trigram vectors). Covers the stage with its progress events,
 * exactly-once vectors, re-embedding with a model of another dimension while queries go on, a
 * provider that fails or times out (job FAILED with a coded reason, keyword queries still
 * answered), the refusals, and isolation between tenants. Crash resume: embedding-crash.test.ts.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { modelAccess, startWorker, type SluiceWorker } from '../../src/server/job-worker.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { createModel, gql, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeScript } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const DOCUMENTS = Array.from({ length: 6 }, (_, d) => ({
  title: `Harbour ${d}`,
  text: Array.from({ length: 4 }, (_, p) => `Harbour ${d}, note ${p}: the tide rises twice a day and the gates close at low tide. ${'Boats wait. '.repeat(12)}`).join('\n\n'),
}));
const CHUNKING = { chunkSize: 200, chunkOverlap: 20 };
const EMBEDDING_FIELDS = 'embedding { model { id } servingModel { id } embeddedChunks totalChunks }';
const PROGRESS = 'stage kind chunksDone chunksEmbedded chunksToEmbed percent etaSeconds error errorReason sequence';

let server: TestServer;
let fake: FakeOpenAI;
let worker: SluiceWorker | undefined;
let a: Tenant;
let b: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  // No inline worker: the first test subscribes before a worker exists, so it sees every stage.
  // The model timeout is the window in which the re-embed test holds a request while it reads
  // state (four requests): 1.5 s was too short on a loaded machine; the timeout case waits 2 × 6 s.
  server = await startTestServer({ worker: false, env: { SLUICE_MODEL_TIMEOUT_MS: '6000', SLUICE_MODEL_MAX_RETRIES: '1', SLUICE_MODEL_RETRY_BASE_MS: '10' } });
  [a, b] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
});
afterAll(async () => {
  await worker?.stop();
  await server?.close();
  await fake?.close();
});

const startInProcessWorker = async () =>
  (worker ??= await startWorker({
    config: server.config.worker,
    progressIntervalMs: 20,
    orm: server.orm,
    queueUrl: server.database.ownerUrl,
    progress: server.bus.progress,
    models: modelAccess(server.config),
    logger: createLogger({ level: 'silent' }),
  }));

const owner = <T>(sql: string, params: unknown[]) => withClient(server.database.ownerUrl, async (client) => (await client.query(sql, params)).rows as T[]);

const embeddingsModel = (token: string, config: Record<string, unknown> = {}) =>
  createModel(server, token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'fake-embed', batchSize: 4, ...config }, promptMicrosPer1k: 20 });

async function datasetState(token: string, id: string) {
  return (await must(server, token, `query($id: ID!) { node(id: $id) { ... on Dataset { chunkCount ${EMBEDDING_FIELDS} } } }`, { id })).node;
}

/** The first event of the `datasetIngestion` subscription, over graphql-ws. */
async function firstDatasetEvent(token: string, datasetId: string) {
  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  try {
    const events = client.iterate({ query: `subscription($id: ID!) { datasetIngestion(datasetId: $id) { jobId stage kind } }`, variables: { id: datasetId } });
    const { value } = await events.next();
    await events.return?.();
    return (value as any)?.data?.datasetIngestion ?? value;
  } finally {
    await client.dispose();
  }
}

async function job(token: string, id: string) {
  return (await must(server, token, `query($id: ID!) { ingestionJob(id: $id) { attempts progress { ${PROGRESS} } } }`, { id })).ingestionJob;
}

/** The vectors of a dataset: rows, distinct (chunk, model) pairs, rows per model, and the worst distance of a norm from 1. */
async function vectors(datasetId: string) {
  const [row] = await owner<{ rows: number; distinct_rows: number; worst_norm: number | null }>(
    `select count(*)::int as rows, count(distinct (chunk_id, model_id))::int as distinct_rows,
            max(abs(1 - sqrt((select sum(x * x) from unnest(embedding) x)))) as worst_norm
       from chunk_embeddings where dataset_id = $1`,
    [databaseIdOf(datasetId)],
  );
  const models = await owner<{ model: string; n: number }>(`select model_id as model, count(*)::int as n from chunk_embeddings where dataset_id = $1 group by 1`, [databaseIdOf(datasetId)]);
  return { ...row!, per_model: Object.fromEntries(models.map(({ model, n }) => [model, n])) };
}

async function embeddedDataset(token: string, model: { id: string }) {
  const dataset = await createDataset(server, token, { embeddingModelId: model.id });
  const { body } = await ingestInline(server, token, dataset.id, DOCUMENTS, CHUNKING);
  return { dataset, jobId: body.data.ingestDocuments.id as string };
}

describe('the EMBEDDING stage', () => {
  it('embeds every chunk after INDEXING, in batches of the model’s batchSize, with progress events and usage', async () => {
    fake.script({});
    const model = await embeddingsModel(a.token);
    const { dataset, jobId } = await embeddedDataset(a.token, model);
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${a.token}` } });
    const updates: any[] = [];
    let firstUpdate!: () => void;
    const subscribed = new Promise<void>((resolve) => (firstUpdate = resolve));
    const watching = (async () => {
      for await (const result of client.iterate({ query: `subscription($id: ID!) { ingestionProgress(jobId: $id) { ${PROGRESS} } }`, variables: { id: jobId } })) {
        updates.push(result.data?.ingestionProgress ?? result);
        firstUpdate();
      }
    })();
    await subscribed;
    const before = fake.requests.length;
    await startInProcessWorker();
    await watching;
    await client.dispose();

    const state = await datasetState(a.token, dataset.id);
    const chunks = state.chunkCount as number;
    expect(chunks).toBeGreaterThan(8);
    const stages = updates.map((update) => update.stage).filter((stage, i, all) => stage !== all[i - 1]);
    expect(stages).toEqual(['QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'EMBEDDING', 'COMPLETED']);
    expect(updates.at(-1)).toMatchObject({ kind: 'INGEST', chunksDone: chunks, chunksEmbedded: chunks, chunksToEmbed: chunks, percent: 100, error: null });
    // Progress within the stage: more than one event while EMBEDDING, counts never going back.
    const embedding = updates.filter((update) => update.stage === 'EMBEDDING').map((update) => update.chunksEmbedded);
    expect(embedding.length).toBeGreaterThan(1);
    expect(embedding).toEqual([...embedding].sort((x, y) => x - y));
    // The bytes are all processed by then: no ETA from their rate while chunks are left to embed.
    const embeddingLeft = updates.filter((update) => update.stage === 'EMBEDDING' && update.chunksEmbedded < update.chunksToEmbed);
    expect(embeddingLeft.length).toBeGreaterThan(0);
    expect(embeddingLeft.map((update) => update.etaSeconds)).toEqual(embeddingLeft.map(() => null));
    const calls = fake.requests.slice(before).filter((request) => Array.isArray(request.body.input));
    expect(calls.map((call) => call.body.input.length)).toEqual(Array.from({ length: Math.ceil(chunks / 4) }, (_, i) => Math.min(4, chunks - 4 * i)));

    expect(state.embedding).toEqual({ model: { id: model.id }, servingModel: { id: model.id }, embeddedChunks: chunks, totalChunks: chunks });
    const stored = await vectors(dataset.id);
    expect(stored).toMatchObject({ rows: chunks, distinct_rows: chunks });
    expect(Number(stored.worst_norm)).toBeLessThan(1e-5);
    // Usage: one record per call, tokens as the server counted them, priced at 20 micro-units per 1 000.
    const tokens = calls.map((call) => call.body.input.reduce((sum: number, text: string) => sum + Math.ceil(text.length / 4), 0));
    const usage = await owner<{ promptTokens: number; costMicros: number; callerId: string }>(
      `select prompt_tokens as "promptTokens", cost_micros::int as "costMicros", caller_id as "callerId" from usage_records where kind = 'embedding' and dataset_id = $1 order by created_at`,
      [databaseIdOf(dataset.id)],
    );
    expect(usage.map((record) => record.promptTokens)).toEqual(tokens);
    expect(usage.map((record) => record.costMicros)).toEqual(tokens.map((count) => Math.round((count * 20) / 1000)));
    expect(new Set(usage.map((record) => record.callerId))).toEqual(new Set([databaseIdOf(jobId)]));
    const { usage: grouped } = await must(server, a.token, '{ usage(groupBy: ENDPOINT) { key queries promptTokens } }');
    expect(grouped).toContainEqual({ key: '(embedding)', queries: 0, promptTokens: tokens.reduce((x, y) => x + y, 0) });
  });

  it('gives each chunk one vector: unchanged input and repairs add only what is missing', async () => {
    fake.script({});
    const model = await embeddingsModel(a.token);
    const { dataset, jobId } = await embeddedDataset(a.token, model);
    await settled(server, a.token, jobId);
    const chunks = (await datasetState(a.token, dataset.id)).chunkCount;

    const again = (await ingestInline(server, a.token, dataset.id, DOCUMENTS, CHUNKING)).body.data.ingestDocuments.id;
    await settled(server, a.token, again);
    expect((await job(a.token, again)).progress).toMatchObject({ stage: 'COMPLETED', chunksEmbedded: 0, chunksToEmbed: 0 });

    // Five vectors lost (as a failed stage leaves them): a repair embeds exactly those five.
    await owner(`delete from chunk_embeddings where id in (select id from chunk_embeddings where dataset_id = $1 limit 5)`, [databaseIdOf(dataset.id)]);
    const repair = (await must(server, a.token, `mutation($id: ID!) { reembedDataset(datasetId: $id) { id progress { kind } } }`, { id: dataset.id })).reembedDataset;
    expect(repair.progress.kind).toBe('REEMBED');
    await settled(server, a.token, repair.id);
    expect((await job(a.token, repair.id)).progress).toMatchObject({ stage: 'COMPLETED', kind: 'REEMBED', chunksEmbedded: 5, chunksToEmbed: 5, percent: 100 });
    expect(await vectors(dataset.id)).toMatchObject({ rows: chunks, distinct_rows: chunks });
  });
});

describe('re-embedding', () => {
  it('re-embeds with a model of another dimension while queries keep the old vectors, then switches', async () => {
    fake.script({});
    const [first, second] = [await embeddingsModel(a.token), await embeddingsModel(a.token, { dimensions: 8 })];
    const { dataset, jobId } = await embeddedDataset(a.token, first);
    await settled(server, a.token, jobId);
    const answerer = await createModel(server, a.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const endpoint = (await must(server, a.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }`, {
      input: { name: 'Tides', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: answerer.id },
    })).createEndpoint.reference;
    const chunks = (await datasetState(a.token, dataset.id)).chunkCount;

    let release!: () => void;
    fake.script({ embeddings: { until: new Promise<void>((resolve) => (release = resolve)) } });
    const held = fake.requests.length;
    const updated = (await must(server, a.token, `mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { ${EMBEDDING_FIELDS} } }`, {
      id: dataset.id,
      input: { embeddingModelId: second.id },
    })).updateDataset;
    expect(updated.embedding).toEqual({ model: { id: second.id }, servingModel: { id: first.id }, embeddedChunks: 0, totalChunks: chunks });
    // The re-embed job's first call is at the model server, held: the world meanwhile.
    await fake.requestsReached(held + 1);
    expect(fake.requests.at(-1)!.body.dimensions).toBe(8);
    const [reembed] = (await must(server, a.token, `query($id: ID!) { ingestionJobs(datasetId: $id, last: 1) { edges { node { id progress { stage kind } } } } }`, { id: dataset.id })).ingestionJobs.edges.map((edge: any) => edge.node);
    expect(reembed.progress).toEqual({ stage: 'EMBEDDING', kind: 'REEMBED' });
    // A dataset subscriber arriving while the job embeds is told of it at once (until
    // 2026-12-03 a job in EMBEDDING was left out of the feed's first read, until its next step).
    expect(await firstDatasetEvent(a.token, dataset.id)).toEqual({ jobId: reembed.id, stage: 'EMBEDDING', kind: 'REEMBED' });
    expect((await datasetState(a.token, dataset.id)).embedding.servingModel).toEqual({ id: first.id });
    expect((await vectors(dataset.id)).per_model).toEqual({ [databaseIdOf(first.id)]: chunks });
    const during = await queryEndpoint(server, a.token, endpoint, 'tide gates', undefined, 'passages { documentTitle }');
    expect(during.data.queryEndpoint.passages.length).toBeGreaterThan(0);
    fake.script({});
    release();

    await settled(server, a.token, reembed.id);
    expect((await job(a.token, reembed.id)).progress).toMatchObject({ stage: 'COMPLETED', chunksEmbedded: chunks, chunksToEmbed: chunks });
    expect((await datasetState(a.token, dataset.id)).embedding).toEqual({ model: { id: second.id }, servingModel: { id: second.id }, embeddedChunks: chunks, totalChunks: chunks });
    expect((await vectors(dataset.id)).per_model).toEqual({ [databaseIdOf(second.id)]: chunks });
    expect(await owner(`select distinct dimensions from chunk_embeddings where dataset_id = $1`, [databaseIdOf(dataset.id)])).toEqual([{ dimensions: 8 }]);
    expect((await queryEndpoint(server, a.token, endpoint, 'tide gates', undefined, 'passages { documentTitle }')).data.queryEndpoint.passages.length).toBeGreaterThan(0);
    // An update that leaves embeddingModelId out keeps the model and its vectors; null clears them.
    const renamed = (await must(server, a.token, `mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { name ${EMBEDDING_FIELDS} } }`, {
      id: dataset.id,
      input: { name: 'Tides renamed', description: null },
    })).updateDataset;
    expect(renamed).toEqual({ name: 'Tides renamed', embedding: { model: { id: second.id }, servingModel: { id: second.id }, embeddedChunks: chunks, totalChunks: chunks } });
    expect((await vectors(dataset.id)).per_model).toEqual({ [databaseIdOf(second.id)]: chunks });
    const cleared = (await must(server, a.token, `mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { ${EMBEDDING_FIELDS} } }`, {
      id: dataset.id,
      input: { embeddingModelId: null },
    })).updateDataset;
    expect(cleared.embedding).toBeNull();
  });

  it('ends a re-embed job superseded by another model change CANCELLED (SUPERSEDED); the next one embeds and serves', async () => {
    await startInProcessWorker();
    fake.script({});
    const [first, second, third] = [await embeddingsModel(a.token), await embeddingsModel(a.token, { dimensions: 8 }), await embeddingsModel(a.token, { dimensions: 12 })];
    const { dataset, jobId } = await embeddedDataset(a.token, first);
    await settled(server, a.token, jobId);
    const chunks = (await datasetState(a.token, dataset.id)).chunkCount;
    const changeModel = (model: { id: string }) =>
      must(server, a.token, `mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }`, { id: dataset.id, input: { embeddingModelId: model.id } });
    const lastJob = async () =>
      (await must(server, a.token, `query($id: ID!) { ingestionJobs(datasetId: $id, last: 1) { edges { node { id } } } }`, { id: dataset.id })).ingestionJobs.edges[0].node.id as string;

    let release!: () => void;
    fake.script({ embeddings: { until: new Promise<void>((resolve) => (release = resolve)) } });
    const held = fake.requests.length;
    await changeModel(second);
    await fake.requestsReached(held + 1);
    const superseded = await lastJob();
    // The first re-embed job's batch is at the model server when the model changes again.
    await changeModel(third);
    const next = await lastJob();
    expect(next).not.toBe(superseded);
    fake.script({});
    release();

    await settled(server, a.token, superseded);
    const ended = await must(server, a.token, `query($id: ID!) { ingestionJob(id: $id) { status progress { stage kind chunksEmbedded error errorReason } } }`, { id: superseded });
    expect(ended.ingestionJob).toMatchObject({ status: 'CANCELLED', progress: { stage: 'CANCELLED', kind: 'REEMBED', chunksEmbedded: 0, errorReason: 'SUPERSEDED' } });
    expect(ended.ingestionJob.progress.error).toMatch(/embedding model changed while this job ran/);
    // The batch it sent was answered (and is charged) though its vectors were not stored: its usage is recorded.
    expect(await owner(`select count(*)::int as n from usage_records where caller_id = $1 and kind = 'embedding'`, [databaseIdOf(superseded)])).toEqual([{ n: 1 }]);
    await settled(server, a.token, next);
    expect((await job(a.token, next)).progress).toMatchObject({ stage: 'COMPLETED', kind: 'REEMBED', chunksEmbedded: chunks, chunksToEmbed: chunks });
    expect((await datasetState(a.token, dataset.id)).embedding).toEqual({ model: { id: third.id }, servingModel: { id: third.id }, embeddedChunks: chunks, totalChunks: chunks });
    expect((await vectors(dataset.id)).per_model).toEqual({ [databaseIdOf(third.id)]: chunks });
  });

  it('ends a re-embed job whose model is cleared meanwhile CANCELLED (SUPERSEDED), saying the dataset is keyword-only', async () => {
    await startInProcessWorker();
    fake.script({});
    const [first, second] = [await embeddingsModel(a.token), await embeddingsModel(a.token, { dimensions: 8 })];
    const { dataset, jobId } = await embeddedDataset(a.token, first);
    await settled(server, a.token, jobId);
    let release!: () => void;
    fake.script({ embeddings: { until: new Promise<void>((resolve) => (release = resolve)) } });
    const held = fake.requests.length;
    await must(server, a.token, `mutation($id: ID!) { updateDataset(id: $id, input: { embeddingModelId: "${second.id}" }) { id } }`, { id: dataset.id });
    await fake.requestsReached(held + 1);
    const reembed = (await must(server, a.token, `query($id: ID!) { ingestionJobs(datasetId: $id, last: 1) { edges { node { id } } } }`, { id: dataset.id })).ingestionJobs.edges[0].node.id;
    await must(server, a.token, `mutation($id: ID!) { updateDataset(id: $id, input: { embeddingModelId: null }) { id } }`, { id: dataset.id });
    fake.script({});
    release();
    await settled(server, a.token, reembed);
    expect((await job(a.token, reembed)).progress).toMatchObject({
      stage: 'CANCELLED',
      errorReason: 'SUPERSEDED',
      error: "Superseded: the dataset's embedding model was cleared while this job ran; the dataset is keyword-only now.",
    });
    expect((await datasetState(a.token, dataset.id)).embedding).toBeNull();
  });

  it('null makes a dataset keyword-only and deletes its vectors; usage records outlive the dataset', async () => {
    fake.script({});
    const model = await embeddingsModel(a.token);
    const { dataset, jobId } = await embeddedDataset(a.token, model);
    await settled(server, a.token, jobId);
    const cleared = (await must(server, a.token, `mutation($id: ID!) { updateDataset(id: $id, input: { embeddingModelId: null }) { ${EMBEDDING_FIELDS} } }`, { id: dataset.id })).updateDataset;
    expect(cleared.embedding).toBeNull();
    expect((await vectors(dataset.id)).rows).toBe(0);
    const refused = await gql(server, a.token, `mutation($id: ID!) { reembedDataset(datasetId: $id) { id } }`, { id: dataset.id });
    expect(refused.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NO_EMBEDDING_MODEL' });
    // The embedding calls' usage outlives the dataset (and its jobs), like a query's outlives its endpoint.
    const recorded = async () => (await owner<{ n: number }>(`select count(*)::int as n from usage_records where caller_id = $1 and kind = 'embedding'`, [databaseIdOf(jobId)]))[0]!.n;
    const calls = await recorded();
    expect(calls).toBeGreaterThan(0);
    await must(server, a.token, `mutation($id: ID!) { deleteDataset(id: $id) { id } }`, { id: dataset.id });
    expect(await recorded()).toBe(calls);
  });
});

describe('a model server that fails', () => {
  const cases: [string, FakeScript, string][] = [
    ['answers HTTP 500 after its retries', { failures: [{ status: 500 }, { status: 500 }] }, 'EMBEDDING_HTTP_ERROR'],
    ['does not answer in time', { hangAfter: 0 }, 'EMBEDDING_TIMEOUT'],
  ];
  for (const [name, script, reason] of cases) {
    it(`${name}: the job FAILS with ${reason}, keyword queries go on, a re-embed completes the vectors`, async () => {
      const model = await embeddingsModel(a.token, { baseUrl: fake.baseUrl });
      fake.script(script);
      const { dataset, jobId } = await embeddedDataset(a.token, model);
      const failed = await settled(server, a.token, jobId);
      expect(failed.stage).toBe('FAILED');
      const { progress } = await job(a.token, jobId);
      expect(progress.errorReason).toBe(reason);
      expect(progress.error).toMatch(/^Embedding failed \(EMBEDDING_[A-Z_]+\): .*keyword search/);
      expect(progress.error).not.toContain(fake.baseUrl);
      expect(failed.progress).toMatchObject({ documentsDone: DOCUMENTS.length, documentsFailed: 0 });
      expect((await datasetState(a.token, dataset.id)).embedding).toMatchObject({ servingModel: null, embeddedChunks: 0 });

      const answerer = await createModel(server, a.token, { name: uniqueSlug('extractive'), type: 'extractive' });
      const endpoint = (await must(server, a.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }`, {
        input: { name: 'Tides', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: answerer.id },
      })).createEndpoint.reference;
      expect((await queryEndpoint(server, a.token, endpoint, 'tide gates', undefined, 'passages { documentTitle }')).data.queryEndpoint.passages.length).toBeGreaterThan(0);

      fake.script({});
      const repair = (await must(server, a.token, `mutation($id: ID!) { reembedDataset(datasetId: $id) { id } }`, { id: dataset.id })).reembedDataset;
      expect((await settled(server, a.token, repair.id)).stage).toBe('COMPLETED');
      const state = await datasetState(a.token, dataset.id);
      expect(state.embedding).toEqual({ model: { id: model.id }, servingModel: { id: model.id }, embeddedChunks: state.chunkCount, totalChunks: state.chunkCount });
    });
  }

  // It answered "Nothing to retry: every input of the job was ingested", true but no way on.
  it('retryIngestion of a job that failed in its EMBEDDING stage is CONFLICT naming reembedDataset, and queues nothing', async () => {
    const model = await embeddingsModel(a.token, { baseUrl: fake.baseUrl });
    fake.script({ failures: [{ status: 500 }, { status: 500 }] });
    const { dataset, jobId } = await embeddedDataset(a.token, model);
    expect((await settled(server, a.token, jobId)).stage).toBe('FAILED');
    const jobCount = async () => (await owner<{ n: number }>('select count(*)::int as n from ingestion_jobs where dataset_id = $1', [databaseIdOf(dataset.id)]))[0]!.n;
    const before = await jobCount();

    const retried = await gql(server, a.token, `mutation($id: ID!) { retryIngestion(jobId: $id) { id } }`, { id: jobId });
    expect(retried.errors).toHaveLength(1);
    const [error] = retried.errors;
    expect(error.extensions).toMatchObject({ code: 'CONFLICT', reason: 'EMBEDDING_FAILED', errorReason: 'EMBEDDING_HTTP_ERROR', retryWith: 'reembedDataset' });
    expect(error.message).toMatch(/EMBEDDING stage failed \(EMBEDDING_HTTP_ERROR\)\. reembedDataset embeds the chunks still without a vector/);
    expect(await jobCount()).toBe(before);
    expect((await job(a.token, jobId)).progress).toMatchObject({ stage: 'FAILED', errorReason: 'EMBEDDING_HTTP_ERROR' });

    // What it names does the work.
    fake.script({});
    const repair = (await must(server, a.token, `mutation($id: ID!) { reembedDataset(datasetId: $id) { id } }`, { id: dataset.id })).reembedDataset;
    expect((await settled(server, a.token, repair.id)).stage).toBe('COMPLETED');
    const state = await datasetState(a.token, dataset.id);
    expect(state.embedding).toMatchObject({ embeddedChunks: state.chunkCount, totalChunks: state.chunkCount });
  });
});

describe('a server whose vectors change length under the same model', () => {
  it('fails the job rather than store vectors of two lengths, and a semantic query says why instead of finding nothing', async () => {
    // No `dimensions` configured: the server's first answer decides the length (16 here).
    fake.script({});
    const model = await embeddingsModel(a.token);
    const { dataset, jobId } = await embeddedDataset(a.token, model);
    expect((await settled(server, a.token, jobId)).stage).toBe('COMPLETED');
    const stored = await owner<{ dimensions: number; n: number }>('select dimensions, count(*)::int as n from chunk_embeddings where dataset_id = $1 group by 1', [databaseIdOf(dataset.id)]);
    expect(stored).toEqual([{ dimensions: 16, n: (await datasetState(a.token, dataset.id)).chunkCount }]);
    const answerer = await createModel(server, a.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const endpoint = (await must(server, a.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }`, {
      input: { name: 'Tides', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: answerer.id, retrieval: { mode: 'SEMANTIC' } },
    })).createEndpoint.reference;
    expect((await queryEndpoint(server, a.token, endpoint, 'tide gates', undefined, 'passages { documentTitle }')).data.queryEndpoint.passages.length).toBeGreaterThan(0);

    // Another model behind the same address: 12-long vectors.
    fake.script({ embeddings: { dimension: 12 } });
    const refused = await queryEndpoint(server, a.token, endpoint, 'tide gates', undefined, 'passages { documentTitle }');
    expect(refused.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'BAD_RESPONSE' });
    expect(refused.errors[0].message).toContain("dimension 12 where the dataset's vectors have 16");

    const { body } = await ingestInline(server, a.token, dataset.id, [{ title: 'Weirs', text: 'A weir holds the river back above the mill.' }], CHUNKING);
    const second = await settled(server, a.token, body.data.ingestDocuments.id);
    expect(second.stage).toBe('FAILED');
    const { progress } = await job(a.token, body.data.ingestDocuments.id);
    expect(progress.errorReason).toBe('EMBEDDING_BAD_RESPONSE');
    expect(progress.error).toContain('dimension 12 where the dataset');
    const after = await owner<{ dimensions: number }>('select distinct dimensions from chunk_embeddings where dataset_id = $1', [databaseIdOf(dataset.id)]);
    expect(after).toEqual([{ dimensions: 16 }]);
  });

  it("fails a job of another dataset of the same model too: an endpoint over both would miss the other length's dataset", async () => {
    await startInProcessWorker();
    fake.script({});
    const model = await embeddingsModel(a.token);
    const first = await embeddedDataset(a.token, model);
    expect((await settled(server, a.token, first.jobId)).stage).toBe('COMPLETED');
    // Another model behind the same address: the second dataset's first vectors would be 12 long.
    fake.script({ embeddings: { dimension: 12 } });
    const second = await embeddedDataset(a.token, model);
    expect((await settled(server, a.token, second.jobId)).stage).toBe('FAILED');
    expect((await job(a.token, second.jobId)).progress).toMatchObject({ errorReason: 'EMBEDDING_BAD_RESPONSE', error: expect.stringContaining("dimension 12 where the datasets' vectors by this model have 16") });
    expect(await owner('select count(*)::int as n from chunk_embeddings where dataset_id = $1', [databaseIdOf(second.dataset.id)])).toEqual([{ n: 0 }]);
    fake.script({});
  });
});

describe('refusals and isolation', () => {
  const CREATE = `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }`;
  const UPDATE = `mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }`;
  const codeOf = (body: any) => ({ code: body.errors?.[0]?.extensions?.code, reason: body.errors?.[0]?.extensions?.reason });

  it('refuses a chat model, an unknown or foreign model, and deleting a model a dataset embeds with', async () => {
    const chat = await createModel(server, a.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const foreign = await embeddingsModel(b.token);
    const input = (embeddingModelId: string) => ({ input: { name: 'x', slug: uniqueSlug('ds'), embeddingModelId } });
    expect(codeOf(await gql(server, a.token, CREATE, input(chat.id)))).toEqual({ code: 'BAD_USER_INPUT', reason: 'WRONG_MODEL_KIND' });
    expect(codeOf(await gql(server, a.token, CREATE, input(foreign.id)))).toEqual({ code: 'NOT_FOUND', reason: undefined });
    const unknown = Buffer.from('Model:00000000-0000-4000-8000-000000000000').toString('base64');
    expect(codeOf(await gql(server, a.token, CREATE, input(unknown)))).toEqual({ code: 'NOT_FOUND', reason: undefined });

    const model = await embeddingsModel(a.token);
    const dataset = await createDataset(server, a.token);
    expect(codeOf(await gql(server, a.token, UPDATE, { id: dataset.id, input: { embeddingModelId: chat.id } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'WRONG_MODEL_KIND' });
    expect(codeOf(await gql(server, a.token, UPDATE, { id: dataset.id, input: { embeddingModelId: foreign.id } }))).toEqual({ code: 'NOT_FOUND', reason: undefined });
    await must(server, a.token, UPDATE, { id: dataset.id, input: { embeddingModelId: model.id } });
    const inUse = await gql(server, a.token, `mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: model.id });
    expect(inUse.errors[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'MODEL_IN_USE', datasets: [dataset.slug] });
  });

  it('refuses clearing the model of a dataset a SEMANTIC or HYBRID endpoint ranks by its vectors, until none does', async () => {
    await startInProcessWorker();
    fake.script({});
    const model = await embeddingsModel(a.token);
    const { dataset, jobId } = await embeddedDataset(a.token, model);
    await settled(server, a.token, jobId);
    const answerer = await createModel(server, a.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const endpoints = [];
    for (const mode of ['SEMANTIC', 'HYBRID']) {
      const slug = uniqueSlug(`ep-${mode.toLowerCase()}`);
      const created = await must(server, a.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id slug } }`, {
        input: { name: mode, slug, datasetIds: [dataset.id], modelId: answerer.id, retrieval: { mode } },
      });
      endpoints.push(created.createEndpoint as { id: string; slug: string });
    }
    const clear = () => gql(server, a.token, `mutation($id: ID!) { updateDataset(id: $id, input: { embeddingModelId: null, name: "Renamed" }) { name } }`, { id: dataset.id });
    const refused = await clear();
    expect(refused.errors[0].extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'USED_BY_VECTOR_ENDPOINTS',
      field: 'embeddingModelId',
      endpoints: endpoints.map((endpoint) => endpoint.slug).sort(),
    });
    // Nothing changed: the model, its vectors, the name.
    expect((await datasetState(a.token, dataset.id)).embedding.model).toEqual({ id: model.id });
    expect((await vectors(dataset.id)).rows).toBeGreaterThan(0);
    for (const endpoint of endpoints) {
      await must(server, a.token, `mutation($id: ID!) { updateEndpoint(id: $id, input: { retrieval: { mode: KEYWORD } }) { id } }`, { id: endpoint.id });
    }
    const cleared = await clear();
    expect(cleared.errors).toBeUndefined();
    expect(cleared.data.updateDataset.name).toBe('Renamed');
    expect((await datasetState(a.token, dataset.id)).embedding).toBeNull();
  });

  it('refuses changing the model or dimensions of an embeddings model a dataset embeds with; its address and batch size may change', async () => {
    const model = await embeddingsModel(a.token);
    const config = { baseUrl: fake.baseUrl, model: 'fake-embed', batchSize: 4 };
    const updateModel = (changes: Record<string, unknown>) =>
      gql(server, a.token, `mutation($id: ID!, $input: UpdateModelInput!) { updateModel(id: $id, input: $input) { config } }`, { id: model.id, input: { config: { ...config, ...changes } } });
    // Named by no dataset yet: nothing stored depends on it.
    expect((await updateModel({ dimensions: 8 })).data.updateModel.config).toMatchObject({ dimensions: 8 });
    const dataset = await createDataset(server, a.token);
    await must(server, a.token, UPDATE, { id: dataset.id, input: { embeddingModelId: model.id } });
    for (const [changes, settings] of [[{ model: 'other-embed', dimensions: 8 }, ['model']], [{ dimensions: 16 }, ['dimensions']], [{}, ['dimensions']], [{ model: 'other-embed' }, ['model', 'dimensions']]] as const) {
      const refused = await updateModel(changes);
      expect(refused.errors[0].extensions, JSON.stringify(changes)).toMatchObject({ code: 'CONFLICT', reason: 'MODEL_IN_USE', field: 'config', settings, datasets: [dataset.slug] });
      expect(refused.errors[0].message).toContain('set it as their embeddingModelId');
    }
    // The same vectors from another address, or in smaller batches: allowed.
    expect((await updateModel({ dimensions: 8, batchSize: 2, baseUrl: `${fake.baseUrl}/` })).data.updateModel.config).toMatchObject({ model: 'fake-embed', dimensions: 8, batchSize: 2 });
    const [stored] = await owner<{ config: Record<string, unknown> }>('select config from models where id = $1', [databaseIdOf(model.id)]);
    expect(stored!.config).toMatchObject({ model: 'fake-embed', dimensions: 8, batchSize: 2 });
  });

  it('another tenant can neither see a dataset’s embedding state nor re-embed it', async () => {
    fake.script({});
    const model = await embeddingsModel(a.token);
    const { dataset, jobId } = await embeddedDataset(a.token, model);
    await settled(server, a.token, jobId);
    const seen = await gql(server, b.token, `query($id: ID!) { node(id: $id) { ... on Dataset { ${EMBEDDING_FIELDS} } } }`, { id: dataset.id });
    expect(seen.data?.node ?? null).toBeNull();
    expect(codeOf(await gql(server, b.token, `mutation($id: ID!) { reembedDataset(datasetId: $id) { id } }`, { id: dataset.id })).code).toBe('NOT_FOUND');
    expect(codeOf(await gql(server, b.token, UPDATE, { id: dataset.id, input: { embeddingModelId: null } })).code).toBe('NOT_FOUND');
    expect((await datasetState(a.token, dataset.id)).embedding.servingModel).toEqual({ id: model.id });
  });
});
