/**
 * Cancelling a job while a batch of its chunks is at the embeddings server abandons that call:
 * the upstream connection is closed within a worker heartbeat, the job's tenant slot is free
 * again for its next job, and nothing of the abandoned batch is written. Before, the worker
 * waited for the server's answer (here: never; the model's timeout is ten minutes), holding the
 * slot, and the tenant's next upload waited behind it. Through the real server, its inline
 * worker (graphile-worker) and PostgreSQL.
 *
 * fake-openai is a test double for a third-party embeddings server: a real HTTP server on
 * 127.0.0.1 speaking the real `/v1/embeddings` protocol; here it sends headers and then nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createModel, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  // One slot per tenant, so the tenant's next job can run only once the cancelled one let go.
  server = await startTestServer({
    env: { SLUICE_WORKER_CONCURRENCY: '2', SLUICE_WORKER_TENANT_CONCURRENCY: '1', SLUICE_WORKER_HEARTBEAT_MS: '300', SLUICE_MODEL_TIMEOUT_MS: '600000', SLUICE_MODEL_MAX_RETRIES: '0' },
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

it('abandons the embedding call of a cancelled job and frees its slot', async () => {
  const owner = await tenantWithOwner(server);
  const model = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'm', dimensions: 8 } });
  fake.script({ hangAfter: 0 });
  const before = fake.requests.length;
  const dataset = await createDataset(server, owner.token, { embeddingModelId: model.id });
  const { body } = await ingestInline(server, owner.token, dataset.id, [{ title: 'Sluice gate', text: 'A sluice gate lets water through a channel when it is raised.' }]);
  const jobId: string = body.data.ingestDocuments.id;
  await fake.requestsReached(before + 1);
  const call = fake.requests[before]!;

  const cancelled = await server.graphql(`mutation($id: ID!) { cancelIngestion(jobId: $id) { stage } }`, { token: owner.token, variables: { id: jobId } });
  expect(cancelled.body.data.cancelIngestion.stage).toBe('CANCELLED');
  // The worker closes the upstream connection (it would otherwise stay open for ten minutes).
  await call.closed;
  expect(call.finished).toBe(false);

  // The tenant's next job gets the slot: a keyword-only dataset, which calls no model.
  const next = await createDataset(server, owner.token);
  const again = await ingestInline(server, owner.token, next.id, [{ title: 'Weir', text: 'A weir holds water back across a river.' }]);
  expect((await settled(server, owner.token, again.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');

  // The cancelled job stays cancelled, with no vector written and no error of the call.
  const job = await server.graphql(`query($id: ID!) { ingestionJob(id: $id) { stage progress { error chunksEmbedded } } }`, { token: owner.token, variables: { id: jobId } });
  expect(job.body.data.ingestionJob).toEqual({ stage: 'CANCELLED', progress: { error: null, chunksEmbedded: 0 } });
  expect(fake.requests.length).toBe(before + 1);
});
