/**
 * One tenant cannot take every worker slot: at most SLUICE_WORKER_TENANT_CONCURRENCY of its
 * ingestion jobs run at once (default: SLUICE_WORKER_CONCURRENCY − 1, here 2 − 1 = 1), so
 * another tenant's job runs beside them. Tenant A's embeddings server answers nothing (held by
 * the test) while A has jobs in two datasets: one runs and waits at the server, the other stays
 * QUEUED, and tenant B's upload completes meanwhile. Before the cap, A's two jobs held both
 * slots and B's one-line upload waited for the model timeout. Through the real server, its
 * inline worker (graphile-worker) and PostgreSQL.
 *
 * fake-openai is a test double for a third-party embeddings server: a real HTTP server on
 * 127.0.0.1 speaking the real `/v1/embeddings` protocol, held mid-request by the test.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createModel, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, jobOf, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  // Two slots (the default), and a short look-again delay for the job that waits for its tenant.
  server = await startTestServer({ env: { SLUICE_WORKER_CONCURRENCY: '2', SLUICE_WORKER_HEARTBEAT_MS: '300', SLUICE_MODEL_TIMEOUT_MS: '120000' } });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

it("runs another tenant's job while one tenant's jobs wait on a server that answers nothing", async () => {
  const [a, b] = [await tenantWithOwner(server), await tenantWithOwner(server)];
  const model = await createModel(server, a.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'm', dimensions: 8 } });
  let release!: () => void;
  fake.script({ embeddings: { until: new Promise<void>((resolve) => (release = resolve)) } });
  const held = fake.requests.length;
  const aJobs: string[] = [];
  for (const name of ['Harbour', 'Pier']) {
    const dataset = await createDataset(server, a.token, { embeddingModelId: model.id });
    const { body } = await ingestInline(server, a.token, dataset.id, [{ title: name, text: `${name} notes: the tide rises twice a day.` }]);
    aJobs.push(body.data.ingestDocuments.id);
  }
  // One of A's jobs reaches the held server.
  await fake.requestsReached(held + 1);

  const bDataset = await createDataset(server, b.token);
  const { body } = await ingestInline(server, b.token, bDataset.id, [{ title: 'Weir', text: 'A weir holds water back across a river.' }]);
  expect((await settled(server, b.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');

  // Meanwhile A has one job at the server and the other still queued: A's one slot is taken.
  const stages = await Promise.all(aJobs.map(async (id) => (await jobOf(server, a.token, id)).stage));
  expect(stages.sort()).toEqual(['EMBEDDING', 'QUEUED']);
  expect(fake.requests.length).toBe(held + 1);

  fake.script({});
  release();
  for (const id of aJobs) expect((await settled(server, a.token, id)).stage).toBe('COMPLETED');
});
