/**
 * A `sluice worker` process killed with SIGKILL in the middle of the EMBEDDING stage: after a
 * restart the job resumes where the vectors stop (the NOT EXISTS query), and the dataset ends
 * with exactly one vector per chunk, usage recorded once per stored batch, and one more attempt.
 *
 * The embeddings provider is fake-openai: a TEST DOUBLE for a third-party model server, a real
 * HTTP server on 127.0.0.1 speaking the real `/v1/embeddings` protocol. The test holds each of
 * its answers and lets them go one at a time, so the worker is killed at a known point: three
 * batches stored, the fourth at the model server.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createModel, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { sluiceEnv, spawnSluice, type SluiceProcess } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
let fake: FakeOpenAI;
const workers: SluiceProcess[] = [];
beforeAll(async () => {
  fake = await startFakeOpenAI();
  // The API without a worker: only the spawned `sluice worker` processes run jobs.
  server = await startTestServer({ worker: false });
});
afterAll(async () => {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await server?.close();
  await fake?.close();
});

function startWorkerProcess(): SluiceProcess {
  const worker = spawnSluice(['worker'], sluiceEnv(server.database, { LOG_LEVEL: 'info', SLUICE_WORKER_HEARTBEAT_MS: '200', SLUICE_WORKER_STALE_MS: '120000' }));
  workers.push(worker);
  return worker;
}

const BATCH = 2;
const documents = Array.from({ length: 4 }, (_, d) => ({
  title: `Tides ${d}`,
  text: Array.from({ length: 4 }, (_, p) => `Tides ${d}, paragraph ${p}: the harbour gates close at low tide. ${'Boats wait for the water. '.repeat(6)}`).join('\n\n'),
}));

const untilRequest = (count: number) => fake.requestsReached(count);

it('resumes the EMBEDDING stage after its worker is SIGKILLed, with one vector per chunk', async () => {
  const { token } = await tenantWithOwner(server);
  const model = await createModel(server, token, {
    name: uniqueSlug('emb'),
    type: 'openai-compatible-embeddings',
    config: { baseUrl: fake.baseUrl, model: 'fake-embed', batchSize: BATCH },
  });
  const dataset = await createDataset(server, token, { embeddingModelId: model.id });
  const datasetUuid = databaseIdOf(dataset.id);

  // Each answer waits for its own gate: three let through, the fourth held when the worker dies.
  const gates: (() => void)[] = [];
  const holdNext = () => fake.script({ embeddings: { until: new Promise<void>((resolve) => gates.push(resolve)) } });
  holdNext();
  const { body } = await ingestInline(server, token, dataset.id, documents, { chunkSize: 200, chunkOverlap: 20 });
  const jobId = body.data.ingestDocuments.id;
  const first = startWorkerProcess();
  const { instanceId } = await first.waitForLog((line) => line.msg === 'job worker started');
  for (let batch = 1; batch <= 3; batch += 1) {
    await untilRequest(batch);
    holdNext();
    gates[batch - 1]!();
  }
  await untilRequest(4);
  first.child.kill('SIGKILL');
  await first.exit;

  const jobQuery = `query($id: ID!) { ingestionJob(id: $id) { stage attempts progress { chunksDone chunksEmbedded chunksToEmbed } } }`;
  const interrupted = (await must(server, token, jobQuery, { id: jobId })).ingestionJob;
  expect(interrupted).toMatchObject({ stage: 'EMBEDDING', attempts: 1, progress: { chunksEmbedded: 3 * BATCH } });
  const chunks = interrupted.progress.chunksDone as number;
  expect(interrupted.progress.chunksToEmbed).toBe(chunks);
  expect(chunks).toBeGreaterThan(4 * BATCH);

  fake.script({});
  const before = fake.requests.length;
  await withClient(server.database.ownerUrl, (client) => client.query(`update worker_instances set heartbeat_at = now() - interval '1 hour' where id = $1`, [instanceId]));
  const second = startWorkerProcess();
  const job = await settled(server, token, jobId, 90_000);
  expect(job.stage).toBe('COMPLETED');
  const resumed = (await must(server, token, jobQuery, { id: jobId })).ingestionJob;
  expect(resumed).toMatchObject({ attempts: 2, progress: { chunksDone: chunks, chunksEmbedded: chunks, chunksToEmbed: chunks } });
  // The second worker embedded only what the first had not stored.
  const embeddedAfter = fake.requests.slice(before).reduce((sum, request) => sum + request.body.input.length, 0);
  expect(embeddedAfter).toBe(chunks - 3 * BATCH);

  const [counts] = await withClient(server.database.ownerUrl, async (client) =>
    (
      await client.query(
        `select (select count(*) from chunk_embeddings where dataset_id = $1)::int as vectors,
                (select count(distinct chunk_id) from chunk_embeddings where dataset_id = $1)::int as distinct_chunks,
                (select count(*) from chunks where dataset_id = $1)::int as chunks,
                (select count(*) from usage_records where dataset_id = $1 and kind = 'embedding')::int as usage_records,
                (select serving_embedding_model_id from datasets where id = $1) as serving`,
        [datasetUuid],
      )
    ).rows,
  );
  expect(counts).toEqual({ vectors: chunks, distinct_chunks: chunks, chunks, usage_records: Math.ceil(chunks / BATCH), serving: databaseIdOf(model.id) });
  second.child.kill('SIGTERM');
  expect(await second.exit).toBe(0);
}, 180_000);
