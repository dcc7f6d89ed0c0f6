/**
 * Live progress over graphql-ws and SSE: stages in order, counts reaching the totals,
 * completion; a late subscriber; resuming after a sequence; a foreign tenant refused; the
 * dataset-wide stream; cancellation and retry (with the worker held back, then started).
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createEventBus } from '../../src/platform/events/event-bus.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { modelAccess, startWorker } from '../../src/server/job-worker.js';
import { codeOf } from '../support/identity.js';
import { createDataset, ingestInline, jobOf, overSse, PROGRESS_FIELDS, progressOverWebSocket, settled, tenantWithOwner, watchProgress } from '../support/ingestion.js';
import { scrape, untilSubscriptionTopics, value } from '../support/metrics.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let held: TestServer;
beforeAll(async () => {
  [server, held] = await Promise.all([
    startTestServer({ env: { SLUICE_PROGRESS_INTERVAL_MS: '100' } }),
    // No worker: jobs stay QUEUED until a test starts one.
    startTestServer({ worker: false, env: { SLUICE_PROGRESS_POLL_MS: '100' } }),
  ]);
});
afterAll(() => Promise.all([server?.close(), held?.close()]));

const ORDER = ['QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'COMPLETED'];
const documents = (count: number) => Array.from({ length: count }, (_, i) => ({ title: `doc-${i}`, text: `Paragraph ${i}. `.repeat(400) }));

function expectWellFormed(updates: any[], total: number) {
  const stages = updates.map((update) => update.stage);
  expect(stages.map((stage) => ORDER.indexOf(stage))).toEqual([...stages.map((stage) => ORDER.indexOf(stage))].sort((a, b) => a - b));
  expect(stages.at(-1)).toBe('COMPLETED');
  const sequences = updates.map((update) => update.sequence);
  expect(new Set(sequences).size).toBe(sequences.length);
  expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
  for (const [a, b] of updates.slice(1).map((update, i) => [updates[i], update])) {
    expect(b.documentsDone).toBeGreaterThanOrEqual(a.documentsDone);
    expect(b.bytesDone).toBeGreaterThanOrEqual(a.bytesDone);
    expect(b.bytesProcessed).toBeGreaterThanOrEqual(a.bytesProcessed);
  }
  for (const update of updates) expect(update.bytesProcessed).toBeGreaterThanOrEqual(update.bytesDone);
  const last = updates.at(-1);
  expect(last).toMatchObject({ documentsDone: total, documentsTotal: total, percent: 100, bytesDone: last.bytesTotal, bytesProcessed: last.bytesTotal, etaSeconds: null, error: null });
}

describe('ingestionProgress', () => {
  it('streams a job end to end over graphql-ws, with every outcome exactly once', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, documents(12));
    const results = await progressOverWebSocket(server.wsUrl, token, body.data.ingestDocuments.id);
    expect(results.every((result) => !result.errors)).toBe(true);
    const updates = results.map((result) => result.data.ingestionProgress);
    expectWellFormed(updates, 12);
    const outcomes = updates.flatMap((update) => update.documents);
    expect(outcomes.map((outcome: any) => outcome.index).sort((a: number, b: number) => a - b)).toEqual([...Array(12).keys()]);
    expect(outcomes.every((outcome: any) => outcome.status === 'DONE' && outcome.outcome === 'INDEXED')).toBe(true);
    expect(updates.at(-1).chunksDone).toBe(outcomes.reduce((sum: number, outcome: any) => sum + outcome.chunks, 0));
    // Never more events than recorded changes (one sequence each; the worker records more than
    // one per input, so not 12 outcomes + 4 stages) plus the first snapshot; how many the
    // throttle coalesces depends on the machine's speed, so it is not asserted here.
    expect(updates.length).toBeLessThanOrEqual(updates.at(-1).sequence + 1);
    expect(new Set(updates.map((update: any) => update.sequence)).size).toBe(updates.length);
  });

  it('streams over Server-Sent Events too', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, documents(3));
    const sse = await overSse(server.url, token, `subscription($jobId: ID!) { ingestionProgress(jobId: $jobId) { ${PROGRESS_FIELDS} } }`, { jobId: body.data.ingestDocuments.id });
    expect(sse.status).toBe(200);
    expect(sse.contentType).toContain('text/event-stream');
    expectWellFormed(sse.events.map((event: any) => event.data.ingestionProgress), 3);
  });

  it('gives a late subscriber the final state at once, and replays outcomes after a sequence', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, documents(4));
    const jobId = body.data.ingestDocuments.id;
    await settled(server, token, jobId);
    const late = await progressOverWebSocket(server.wsUrl, token, jobId);
    expect(late).toHaveLength(1);
    expect(late[0].data.ingestionProgress).toMatchObject({ stage: 'COMPLETED', documentsDone: 4, documents: [] });
    // As if the client had seen everything up to the PARSING stage (sequence 1) and reconnected.
    const resumed = (await progressOverWebSocket(server.wsUrl, token, jobId, 1))[0].data.ingestionProgress;
    expect(resumed.documents.map((outcome: any) => outcome.name)).toEqual(['doc-0', 'doc-1', 'doc-2', 'doc-3']);
    expect(resumed.documents.every((outcome: any) => outcome.sequence > 1)).toBe(true);
  });

  it("refuses another tenant's job, an anonymous caller and a bad sequence, without closing the socket", async () => {
    const a = await tenantWithOwner(server);
    const b = await tenantWithOwner(server);
    const dataset = await createDataset(server, b.token);
    const { body } = await ingestInline(server, b.token, dataset.id, documents(1));
    const jobId = body.data.ingestDocuments.id;
    const [foreign] = await progressOverWebSocket(server.wsUrl, a.token, jobId);
    expect(foreign.errors[0].extensions.code).toBe('NOT_FOUND');
    expect(JSON.stringify(foreign)).not.toContain('doc-0');
    expect((await server.graphql(`query($id: ID!) { ingestionJob(id: $id) { stage } }`, { token: a.token, variables: { id: jobId } })).body.data.ingestionJob).toBeNull();
    const [negative] = await progressOverWebSocket(server.wsUrl, b.token, jobId, -1);
    expect(negative.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const anonymous = await overSse(server.url, '', `subscription($jobId: ID!) { ingestionProgress(jobId: $jobId) { stage } }`, { jobId });
    expect(anonymous.raw).toContain('UNAUTHENTICATED');
  });

  it('ends with UNAUTHENTICATED when the token expires mid-stream', async () => {
    const { tenant } = await tenantWithOwner(held);
    const user = tenant.users[0]!;
    const token = await held.tokenFor(tenant, user);
    const dataset = await createDataset(held, token);
    const { body } = await ingestInline(held, token, dataset.id, documents(1));
    const issuedAt = new Date(Date.now() - (held.config.accessTokenTtlSeconds - 1) * 1000);
    const { token: expiring } = await held.tokens.sign({ userId: user.id, email: user.email, tenantId: tenant.id, tenantSlug: tenant.slug, role: user.role }, issuedAt);
    const results = await progressOverWebSocket(held.wsUrl, expiring, body.data.ingestDocuments.id);
    expect(results[0].data.ingestionProgress.stage).toBe('QUEUED');
    expect(results.at(-1).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('cancelIngestion and retryIngestion', () => {
  it('cancels a queued job (subscribers see it end), then retries it to completion', async () => {
    const { token } = await tenantWithOwner(held);
    const dataset = await createDataset(held, token);
    const { body } = await ingestInline(held, token, dataset.id, documents(3));
    const jobId = body.data.ingestDocuments.id;
    const watching = watchProgress(held.wsUrl, token, jobId);
    // The subscription is set up once its first state (QUEUED) arrives: cancel only then.
    expect((await watching.first)?.data.ingestionProgress.stage).toBe('QUEUED');
    const cancel = `mutation($id: ID!) { cancelIngestion(jobId: $id) { stage documents { status } } }`;
    const cancelled = await held.graphql(cancel, { token, variables: { id: jobId } });
    expect(cancelled.body.data.cancelIngestion).toEqual({ stage: 'CANCELLED', documents: [{ status: 'CANCELLED' }, { status: 'CANCELLED' }, { status: 'CANCELLED' }] });
    const seen = (await watching.all).map((result) => result.data.ingestionProgress);
    expect(seen.map((update) => update.stage)).toEqual(['QUEUED', 'CANCELLED']);
    expect(codeOf((await held.graphql(cancel, { token, variables: { id: jobId } })).body)).toBe('CONFLICT');

    const retried = await held.graphql(`mutation($id: ID!) { retryIngestion(jobId: $id) { stage progress { documentsDone } } }`, { token, variables: { id: jobId } });
    expect(retried.body.data.retryIngestion).toEqual({ stage: 'QUEUED', progress: { documentsDone: 0 } });
    // Now a worker comes along (the same one `sluice worker` runs) and finishes the job.
    const logger = createLogger({ level: 'silent' });
    const bus = await createEventBus({ redisUrl: undefined, logger });
    const worker = await startWorker({ config: held.config.worker, progressIntervalMs: 50, orm: held.orm, queueUrl: held.database.ownerUrl, progress: bus.progress, models: modelAccess(held.config), logger });
    try {
      const job = await settled(held, token, jobId);
      expect(job.stage).toBe('COMPLETED');
      expect(job.attempts).toBe(1);
      expect(job.documents.map((d: any) => d.outcome)).toEqual(['INDEXED', 'INDEXED', 'INDEXED']);
    } finally {
      await worker.stop();
    }
    const nothingLeft = await held.graphql(`mutation($id: ID!) { retryIngestion(jobId: $id) { stage } }`, { token, variables: { id: jobId } });
    expect(codeOf(nothingLeft.body)).toBe('CONFLICT');
  });
});

describe('datasetIngestion', () => {
  it("streams every job of the dataset, and nothing of another tenant's", async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const topicsBefore = value(await scrape(server), 'sluice_subscription_topics');
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    const updates: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: `subscription($id: ID!) { datasetIngestion(datasetId: $id) { jobId stage documentsDone } }`, variables: { id: dataset.id } },
        {
          next: (result) => {
            updates.push(result.data?.datasetIngestion ?? result);
            if (updates.filter((update) => update.stage === 'COMPLETED').length === 2) resolve();
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    // The stream sends nothing until a job runs: ingest once the server has opened its topic.
    await untilSubscriptionTopics(server, topicsBefore + 1);
    const first = (await ingestInline(server, token, dataset.id, documents(2))).body.data.ingestDocuments.id;
    const second = (await ingestInline(server, token, dataset.id, documents(1).map((d) => ({ ...d, title: 'other' })))).body.data.ingestDocuments.id;
    await done;
    await client.dispose();
    expect(new Set(updates.map((update) => update.jobId))).toEqual(new Set([first, second]));
    expect((await jobOf(server, token, second)).stage).toBe('COMPLETED');

    const other = await tenantWithOwner(server);
    const [refused] = await overSse(server.url, other.token, `subscription($id: ID!) { datasetIngestion(datasetId: $id) { stage } }`, { id: dataset.id }).then((r) => [r.raw]);
    expect(refused).toContain('NOT_FOUND');
  });
});
