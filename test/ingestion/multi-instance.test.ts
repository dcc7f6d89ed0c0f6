/**
 * With Redis: two API processes and a separate worker process. A client subscribed to one API
 * sees the progress of a job it started through the other, run by the worker, and a change of
 * the dataset itself made through the other (`datasetChanges`): the events can only have come
 * through Redis (the subscribers' database polling is set to 10 minutes).
 */
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDataset, ingestInline, PROGRESS_FIELDS, tenantWithOwner } from '../support/ingestion.js';
import { serve, sluiceEnv, spawnSluice, stop, type SluiceProcess } from '../support/process.js';
import { startTestRedis, type TestRedis } from '../support/redis.js';
import { sameDatabaseAt, startTestServer, type TestServer } from '../support/server.js';
import { pollUntil } from '../support/poll.js';
import { databaseIdOf } from '../support/global-ids.js';

let redis: TestRedis | undefined;
let seedServer: TestServer;
const processes: SluiceProcess[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  seedServer = await startTestServer({ worker: false });
}, 30_000);
afterAll(async () => {
  await Promise.all(processes.map((proc) => stop(proc)));
  await seedServer?.close();
  await redis?.stop();
});

/**
 * Resolves once Redis has a subscriber on `channel`: API A's subscription has reached Redis
 * (its SUBSCRIBE is answered), so it hears every event published from then on.
 */
async function untilRedisSubscribers(url: string, channel: string, timeoutMs = 10_000): Promise<void> {
  const client = new Redis(url);
  try {
    const subscribers = async () => Number(((await client.pubsub('NUMSUB', channel)) as [string, number])[1]);
    await pollUntil(subscribers, (count) => count > 0, { timeoutMs, failure: () => `no subscriber on ${channel} after ${timeoutMs} ms` });
  } finally {
    client.disconnect();
  }
}

it.runIf(process.env.REDIS_URL || process.platform === 'linux')('shows a worker’s progress through Redis on another API process', async () => {
  if (!redis) throw new Error('No Redis: set REDIS_URL or install redis-server (.ci/run makes sure one exists)');
  const env = sluiceEnv(seedServer.database, { REDIS_URL: redis.url, SLUICE_PROGRESS_POLL_MS: '600000' });
  const [apiA, apiB] = await Promise.all([serve({ ...env, SLUICE_WORKER: 'off' }), serve({ ...env, SLUICE_WORKER: 'off' })]);
  const worker = spawnSluice(['worker'], { ...env, LOG_LEVEL: 'info' });
  processes.push(apiA, apiB, worker);
  await worker.waitForLog((line) => line.msg === 'job worker started');
  expect(apiA.logs.find((line) => line.msg?.startsWith('Sluice is listening'))).toMatchObject({ events: 'redis', worker: false });

  const { token } = await tenantWithOwner(seedServer);
  const viaB = sameDatabaseAt(seedServer, apiB.baseUrl);
  const dataset = await createDataset(viaB, token);
  // Subscribed on A before the job exists: everything it hears comes from the worker via Redis.
  const client = createClient({ url: `${apiA.baseUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const updates: any[] = [];
  const completed = new Promise<void>((resolve, reject) => {
    client.subscribe(
      { query: `subscription($id: ID!) { datasetIngestion(datasetId: $id) { ${PROGRESS_FIELDS} } }`, variables: { id: dataset.id } },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          updates.push(result.data!.datasetIngestion);
          if ((result.data!.datasetIngestion as any).stage === 'COMPLETED') resolve();
        },
        error: reject,
        complete: () => reject(new Error('the dataset stream ended')),
      },
    );
  });
  await untilRedisSubscribers(redis.url, `ingestion:dataset:${databaseIdOf(dataset.id)}`);
  const documents = Array.from({ length: 20 }, (_, i) => ({ title: `doc-${i}`, text: `Paragraph ${i}. `.repeat(500) }));
  const { body } = await ingestInline(viaB, token, dataset.id, documents);
  await completed;
  await client.dispose();
  expect(updates.every((update) => update.jobId === body.data.ingestDocuments.id)).toBe(true);
  expect(updates.map((update) => update.stage)).toEqual(expect.arrayContaining(['PARSING', 'CHUNKING', 'INDEXING', 'COMPLETED']));
  expect(updates.at(-1)).toMatchObject({ stage: 'COMPLETED', documentsDone: 20, percent: 100 });
  expect(updates.flatMap((update) => update.documents).map((outcome: any) => outcome.index).sort((a: number, b: number) => a - b)).toEqual([...Array(20).keys()]);

  // The dataset renamed through B: a subscriber on A hears it.
  const onA = createClient({ url: `${apiA.baseUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const changes = onA.iterate({ query: 'subscription($id: ID!) { datasetChanges(datasetId: $id) { datasetId name } }', variables: { id: dataset.id } });
  try {
    expect((await changes.next()).value).toMatchObject({ data: { datasetChanges: { datasetId: dataset.id } } });
    // As above: the topic's Redis SUBSCRIBE goes out asynchronously; wait until Redis has it.
    await untilRedisSubscribers(redis.url, `dataset:changed:${databaseIdOf(dataset.id)}`);
    const renamed = await viaB.graphql('mutation($id: ID!) { updateDataset(id: $id, input: { name: "Renamed on B" }) { id } }', { token, variables: { id: dataset.id } });
    expect(renamed.body.errors).toBeUndefined();
    expect((await changes.next()).value).toMatchObject({ data: { datasetChanges: { datasetId: dataset.id, name: 'Renamed on B' } } });
  } finally {
    await changes.return?.();
    await onA.dispose();
  }
}, 90_000);
