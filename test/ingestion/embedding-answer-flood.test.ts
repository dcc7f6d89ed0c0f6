/**
 * A model server's embeddings answer costs the serving process in proportion to what was asked
 * (models/providers/openai-compatible-embeddings.ts, embedding-answer.ts, embedding-answers.ts).
 * The regression: a tenant's server answered one batch of 2 048 texts with 250 MB of
 * `{"data":[{"embedding":[1,0,0,…]}]}`; the process read it all (under a 256 MiB cap), parsed it
 * on the event loop (4.5 GB, /healthz silent for up to 2 minutes), and only then failed the job.
 * Now the answer is refused as soon as it holds more numbers than the batch's vectors can, the
 * rest unread, while other requests are answered; a large honest answer is read in a thread.
 *
 * fake-openai is a TEST DOUBLE for a third-party model server: a real HTTP server on 127.0.0.1
 * speaking the real `/v1/embeddings` protocol; its `flood` answer is the hostile one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createModel, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, trigramVector, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, jobOf, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const MiB = 1024 * 1024;
const CHUNKING = { chunkSize: 100, chunkOverlap: 0 };
/** About 300 chunks of 100 characters: one batch of a model with batchSize 2048. */
const TEXT = Array.from({ length: 300 }, (_, n) => `Gate ${n} of the canal holds the water until the lock keeper opens it.`).join('\n\n');

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0', SLUICE_MODEL_TIMEOUT_MS: '20000' } });
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});


async function ingestWith(config: Record<string, unknown>) {
  const model = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'flood', batchSize: 2048, ...config } });
  const dataset = await createDataset(server, owner.token, { embeddingModelId: model.id });
  const before = fake.requests.length;
  const { body } = await ingestInline(server, owner.token, dataset.id, [{ title: 'Canal', text: TEXT }], CHUNKING);
  return { dataset, jobId: body.data.ingestDocuments.id as string, requests: () => fake.requests.slice(before) };
}

describe('an embeddings answer far larger than its batch', () => {
  it('fails the job with EMBEDDING_BAD_RESPONSE before the rest is read, while /healthz goes on answering', async () => {
    const order: string[] = [];
    const health: Promise<void>[] = [];
    let nextCheck = MiB;
    // A health request at every MiB sent: each is issued while the answer is arriving.
    const onPiece = (sent: number) => {
      if (sent < nextCheck) return;
      nextCheck += MiB;
      health.push(fetch(`${server.baseUrl}/healthz`).then((response) => void order.push(`health ${response.status}`)));
    };
    // 64 MiB of `1,0,0,…`: within the 256 MiB the old bound allowed, 32 million numbers.
    const bytes = 64 * MiB;
    fake.script({ embeddings: { flood: { bytes, onPiece } } });
    const { jobId, requests } = await ingestWith({});
    const job = await settled(server, owner.token, jobId);
    order.push('job ended');
    await Promise.all(health);

    expect(job.stage).toBe('FAILED');
    const chunks = (await jobOf(server, owner.token, jobId)).dataset.chunkCount as number;
    expect(chunks).toBeGreaterThan(250);
    const { progress } = (await must(server, owner.token, 'query($id: ID!) { ingestionJob(id: $id) { progress { errorReason error } } }', { id: jobId })).ingestionJob;
    expect(progress.errorReason).toBe('EMBEDDING_BAD_RESPONSE');
    expect(progress.error).toContain(`more numbers than ${chunks} vectors of dimension 8192 hold`);
    // One request, stopped by the client: the server never got to send the rest.
    expect(requests()).toHaveLength(1);
    await requests()[0]!.closed;
    expect(requests()[0]!.finished).toBe(false);
    // Every health request issued while the answer was arriving was answered, before the job ended.
    expect(health.length).toBeGreaterThan(0);
    expect(order).toEqual([...health.map(() => 'health 200'), 'job ended']);
  });
});

describe('a large honest embeddings answer', () => {
  it('is read in a thread and its vectors stored as the server sent them', async () => {
    fake.script({});
    // About 300 vectors of 1 024 numbers: some 6 MB of JSON, read off the event loop.
    const { dataset, jobId, requests } = await ingestWith({ dimensions: 1024 });
    const job = await settled(server, owner.token, jobId);
    expect(job.stage).toBe('COMPLETED');
    expect(requests()).toHaveLength(1);
    const rows = await withClient(server.database.ownerUrl, async (client) =>
      (await client.query<{ content: string; dimensions: number; embedding: number[] }>(
        'select c.content, e.dimensions, e.embedding from chunk_embeddings e join chunks c on c.id = e.chunk_id where e.dataset_id = $1 order by c.ordinal',
        [databaseIdOf(dataset.id)],
      )).rows,
    );
    expect(rows.length).toBe(job.dataset.chunkCount);
    for (const row of [rows[0]!, rows.at(-1)!]) {
      expect(row.dimensions).toBe(1024);
      const sent = trigramVector(row.content, 1024);
      const stored = row.embedding.map(Number);
      expect(stored.length).toBe(1024);
      for (let at = 0; at < 1024; at++) expect(stored[at]).toBeCloseTo(sent[at]!, 5);
    }
  });
});
