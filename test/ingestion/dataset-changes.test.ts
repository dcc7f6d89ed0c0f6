/**
 * `datasetChanges`: a subscriber hears the dataset changed by another caller, its embeddings
 * model cleared included (which starts no job, so `datasetIngestion` stays silent), through the
 * event bus and not the fallback read: the poll interval is set far past the test's span. Another
 * tenant's dataset id is refused as NOT_FOUND without a word of it; deleting the dataset ends the
 * feed. Real server over graphql-ws and SSE, real PostgreSQL; the embeddings model points at
 * fake-openai (test/support/fake-openai.ts), though no chunk is embedded here.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createModel, must } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { addMember, signUp } from '../support/identity.js';
import { createDataset, overSse } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const FEED = 'subscription($id: ID!) { datasetChanges(datasetId: $id) { datasetId name slug description embeddingModelId updatedAt } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }';

let server: TestServer;
let fake: FakeOpenAI;
beforeAll(async () => {
  // Hints only: a read on the interval would find the change too, and hide a missing event.
  [server, fake] = await Promise.all([startTestServer({ worker: false, env: { SLUICE_PROGRESS_POLL_MS: '600000' } }), startFakeOpenAI()]);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A subscriber's events, taken one at a time. */
function subscriber(token: string, datasetId: string): { client: Client; next(): Promise<any>; ended: Promise<void> } {
  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const events = client.iterate({ query: FEED, variables: { id: datasetId } });
  let done!: () => void;
  const ended = new Promise<void>((resolve) => (done = resolve));
  const queue: any[] = [];
  const waiting: ((value: any) => void)[] = [];
  void (async () => {
    for await (const result of events) {
      const take = waiting.shift();
      if (take) take(result);
      else queue.push(result);
    }
  })()
    // A socket closed under the loop (the test disposing it) ends the feed as well.
    .catch(() => undefined)
    .finally(done);
  return { client, next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve))), ended };
}

describe('datasetChanges', () => {
  it('tells a subscriber of a model cleared and a rename by another caller, and ends when the dataset is deleted', { timeout: 60_000 }, async () => {
    const owner = await signUp(server, { tenantName: 'Saltmarsh Survey' });
    const model = await createModel(server, owner.accessToken, { name: 'Marsh vectors', type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'marsh' } });
    const dataset = await createDataset(server, owner.accessToken, { name: 'Tide tables', slug: 'tide-tables', embeddingModelId: model.id });
    const other = await addMember(server, owner.accessToken, 'MEMBER');

    const feed = subscriber(owner.accessToken, dataset.id);
    try {
      const first = await feed.next();
      expect(first.errors).toBeUndefined();
      expect(first.data.datasetChanges).toMatchObject({ datasetId: dataset.id, name: 'Tide tables', embeddingModelId: model.id });

      // Cleared by another member: no job starts, the dataset page must still hear of it.
      await must(server, other.accessToken, UPDATE, { id: dataset.id, input: { embeddingModelId: null } });
      const cleared = (await feed.next()).data.datasetChanges;
      expect(cleared).toMatchObject({ datasetId: dataset.id, name: 'Tide tables', embeddingModelId: null });
      expect(Date.parse(cleared.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first.data.datasetChanges.updatedAt));

      await must(server, other.accessToken, UPDATE, { id: dataset.id, input: { name: 'Tide tables 2027', description: 'Spring tides' } });
      expect((await feed.next()).data.datasetChanges).toMatchObject({ name: 'Tide tables 2027', description: 'Spring tides', embeddingModelId: null });

      await must(server, other.accessToken, 'mutation($id: ID!) { deleteDataset(id: $id) { id } }', { id: dataset.id });
      await feed.ended;
    } finally {
      await feed.client.dispose();
    }
  });

  it("refuses another tenant's dataset as NOT_FOUND, over graphql-ws and SSE, naming nothing of it", { timeout: 60_000 }, async () => {
    const owner = await signUp(server, { tenantName: 'Estuary Watch' });
    const dataset = await createDataset(server, owner.accessToken, { name: 'Heron counts secret', slug: 'heron-counts' });
    const stranger = await signUp(server, { tenantName: 'Inland Survey' });

    const feed = subscriber(stranger.accessToken, dataset.id);
    try {
      const refused = await feed.next();
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(JSON.stringify(refused)).not.toContain('Heron');
    } finally {
      await feed.client.dispose();
    }
    const overHttp = await overSse(server.url, stranger.accessToken, FEED, { id: dataset.id });
    expect(overHttp.raw).toContain('NOT_FOUND');
    expect(overHttp.raw).not.toContain('Heron');

    // The owner's own feed is unaffected, and a change there reaches no one of the stranger's tenant.
    const own = subscriber(owner.accessToken, dataset.id);
    try {
      expect((await own.next()).data.datasetChanges.name).toBe('Heron counts secret');
    } finally {
      await own.client.dispose();
    }
  });
});
