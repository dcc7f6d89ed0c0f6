/**
 * One tenant's waiting jobs do not stall another tenant's ingestion (review, 2026-12-07). A job
 * whose tenant has every slot taken (tenant-slots.ts) used to be queued again a heartbeat later:
 * each waiting job cost a worker a look every heartbeat, the queue fetches in `run_at` order,
 * and another tenant's new job sorted behind every overdue look (150 waiting re-embed jobs made
 * a one-line upload take 100 s instead of 9). Now a waiting job is parked until a slot frees
 * (waiting-jobs.ts): it is looked at once, however many heartbeats pass and however many wait.
 *
 * The test holds tenant A's one slot (SLUICE_WORKER_CONCURRENCY 2 − 1) itself, with the slot's
 * advisory lock on a connection of its own, as a job running in another worker process would;
 * letting it go without waking anyone is what a runner that dies does, so the heartbeat's sweep
 * must wake A's jobs then. Through the real server, its inline worker (graphile-worker) and
 * PostgreSQL; looks are counted from the worker's log and the queue's rows, not from time.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createModel, gql, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, jobOf, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const MAX_QUEUED = 12;
let server: TestServer;
let fake: FakeOpenAI;
const holds = new Set<pg.Client>();
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({
    env: { SLUICE_WORKER_CONCURRENCY: '2', SLUICE_WORKER_HEARTBEAT_MS: '200', SLUICE_INGEST_MAX_QUEUED_JOBS: String(MAX_QUEUED) },
  });
});
afterAll(async () => {
  for (const hold of holds) await hold.end().catch(() => undefined);
  await server?.close();
  await fake?.close();
});

const REEMBED = `mutation($id: ID!) { reembedDataset(datasetId: $id) { id stage } }`;

/** Takes the tenant's one slot, as a job running elsewhere holds it; resolves to letting it go (without waking anyone). */
async function holdSlot(tenant: Tenant): Promise<() => Promise<void>> {
  const hold = new pg.Client({ connectionString: server.database.ownerUrl });
  await hold.connect();
  holds.add(hold);
  // The slot's advisory lock, named as src/domains/ingestion/tenant-slots.ts names it.
  await hold.query('select pg_advisory_lock(hashtextextended($1, 0))', [`ingestion-tenant-slot:${tenant.tenant.id}:0`]);
  return async () => {
    await hold.end();
    holds.delete(hold);
  };
}

/** How many times the worker found each job's tenant slots taken (one line per look). */
function looksAt(jobIds: string[]): number[] {
  const logs = server.logs;
  return jobIds.map((id) => logs.filter((line) => line.jobId === databaseIdOf(id) && String(line.msg).includes("waits for one of its tenant's")).length);
}

/** The queue's rows of these jobs (each under its key, `ingest:<job id>`): a job queued again is a new row. */
function queueRows(jobIds: string[]): Promise<{ id: string; run_at: Date; locked_at: Date | null }[]> {
  const keys = jobIds.map((id) => `ingest:${databaseIdOf(id)}`);
  return withClient(server.database.ownerUrl, async (client) => (await client.query(`select id, run_at, locked_at from graphile_worker.jobs where key = any($1) order by id`, [keys])).rows);
}

/** Resolves after the worker's heartbeat has run `beats` more times (each one a sweep of waiting jobs). */
async function heartbeats(beats: number): Promise<void> {
  const seen = new Set<string>();
  const beat = () =>
    withClient(server.database.ownerUrl, async (client) => String((await client.query(`select max(heartbeat_at) as at from worker_instances`)).rows[0]!.at?.toISOString()));
  await pollUntil(
    async () => seen.add(await beat()).size,
    (count) => count > beats,
    { timeoutMs: 30_000, failure: (count) => `saw ${count - 1} heartbeats, waited for ${beats}` },
  );
}

async function embeddingDatasets(owner: Tenant, count: number): Promise<{ id: string }[]> {
  const model = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'm', dimensions: 8 } });
  const datasets = [];
  for (let i = 0; i < count; i += 1) datasets.push(await createDataset(server, owner.token, { embeddingModelId: model.id }));
  return datasets;
}

it("runs another tenant's job while one tenant's many jobs wait, and looks at each waiting job once, not every heartbeat", async () => {
  const [a, b] = [await tenantWithOwner(server), await tenantWithOwner(server)];
  const letGo = await holdSlot(a);
  const aJobs: string[] = [];
  for (const dataset of await embeddingDatasets(a, 10)) aJobs.push((await must(server, a.token, REEMBED, { id: dataset.id })).reembedDataset.id);

  // Each of A's jobs has been looked at once and found its tenant's slot taken.
  await pollUntil(
    async () => looksAt(aJobs),
    (looks) => looks.every((n) => n >= 1),
    { timeoutMs: 30_000, failure: (looks) => `looks per job: ${looks.join(', ')}` },
  );
  const waiting = await queueRows(aJobs);
  expect(waiting).toHaveLength(aJobs.length);

  const bDataset = await createDataset(server, b.token);
  const { body } = await ingestInline(server, b.token, bDataset.id, [{ title: 'Weir', text: 'A weir holds water back across a river.' }]);
  expect((await settled(server, b.token, body.data.ingestDocuments.id, 60_000)).stage).toBe('COMPLETED');

  // Several heartbeats later, A's jobs still wait, untouched: the same queue rows (a job queued
  // again would be a new row), none locked, and no job looked at a second time.
  await heartbeats(4);
  expect(await queueRows(aJobs)).toEqual(waiting);
  expect(waiting.every((row) => row.locked_at === null)).toBe(true);
  expect(looksAt(aJobs)).toEqual(aJobs.map(() => 1));
  for (const id of aJobs) expect((await jobOf(server, a.token, id)).stage).toBe('QUEUED');

  // The slot let go with nobody to wake A's jobs (a runner that died): the heartbeat's sweep
  // wakes the first, and each job, ending, wakes the next.
  await letGo();
  for (const id of aJobs) expect((await settled(server, a.token, id, 120_000)).stage).toBe('COMPLETED');
  // A job's entry goes when its task returns, just after its stage reads COMPLETED: awaited.
  await pollUntil(() => queueRows(aJobs), (rows) => rows.length === 0, { timeoutMs: 15_000, failure: (rows) => `queue rows left: ${JSON.stringify(rows)}` });
}, 240_000);

it('reembedDataset answers the re-embed job already queued or running, and queues a new one once it has ended', async () => {
  const a = await tenantWithOwner(server);
  const letGo = await holdSlot(a);
  const [dataset] = await embeddingDatasets(a, 1);
  const first = (await must(server, a.token, REEMBED, { id: dataset!.id })).reembedDataset;
  const second = (await must(server, a.token, REEMBED, { id: dataset!.id })).reembedDataset;
  expect(second.id).toBe(first.id);
  const jobs = await must(server, a.token, `query($id: ID!) { ingestionJobs(datasetId: $id, first: 10) { edges { node { id } } } }`, { id: dataset!.id });
  expect(jobs.ingestionJobs.edges.map((edge: any) => edge.node.id)).toEqual([first.id]);

  await letGo();
  expect((await settled(server, a.token, first.id, 60_000)).stage).toBe('COMPLETED');
  const third = (await must(server, a.token, REEMBED, { id: dataset!.id })).reembedDataset;
  expect(third.id).not.toBe(first.id);
  expect((await settled(server, a.token, third.id, 60_000)).stage).toBe('COMPLETED');
}, 120_000);

it(`refuses a tenant's job past SLUICE_INGEST_MAX_QUEUED_JOBS (${MAX_QUEUED}) queued or running, RATE_LIMITED QUEUED_JOBS, and takes one again once one ends`, async () => {
  const [a, b] = [await tenantWithOwner(server), await tenantWithOwner(server)];
  const letGo = await holdSlot(a);
  const [reembedded, ingested] = await embeddingDatasets(a, 2);
  const queued: string[] = [(await must(server, a.token, REEMBED, { id: reembedded!.id })).reembedDataset.id];
  while (queued.length < MAX_QUEUED) {
    const { body } = await ingestInline(server, a.token, ingested!.id, [{ title: `Note ${queued.length}`, text: 'The tide rises twice a day.' }]);
    queued.push(body.data.ingestDocuments.id);
  }

  const refused = await ingestInline(server, a.token, ingested!.id, [{ title: 'One more', text: 'The tide falls twice a day.' }]);
  expect(refused.body.data?.ingestDocuments ?? null).toBeNull();
  expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'QUEUED_JOBS', max: MAX_QUEUED });
  expect(refused.body.errors[0].extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  expect(refused.body.errors[0].message).toMatch(/already has 12 ingestion and re-embed jobs queued or running/);
  // A re-embed of another dataset is a new job too; the one already queued is answered, not refused.
  const [other] = await embeddingDatasets(a, 1);
  expect((await gql(server, a.token, REEMBED, { id: other!.id })).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'QUEUED_JOBS' });
  expect((await must(server, a.token, REEMBED, { id: reembedded!.id })).reembedDataset.id).toBe(queued[0]);
  // Nothing of the refused calls was kept.
  const listed = await must(server, a.token, `query($id: ID!) { ingestionJobs(datasetId: $id, first: 50) { edges { node { id } } } }`, { id: ingested!.id });
  expect(listed.ingestionJobs.edges.map((edge: any) => edge.node.id).sort()).toEqual(queued.slice(1).sort());

  // Another tenant is not counted with A.
  const bDataset = await createDataset(server, b.token);
  const { body } = await ingestInline(server, b.token, bDataset.id, [{ title: 'Weir', text: 'A weir holds water back.' }]);
  expect((await settled(server, b.token, body.data.ingestDocuments.id, 60_000)).stage).toBe('COMPLETED');

  // A job that ends makes room for one.
  await must(server, a.token, `mutation($id: ID!) { cancelIngestion(jobId: $id) { stage } }`, { id: queued[1] });
  const again = await ingestInline(server, a.token, ingested!.id, [{ title: 'One more', text: 'The tide falls twice a day.' }]);
  expect(again.body.errors).toBeUndefined();
  queued.push(again.body.data.ingestDocuments.id);

  // The rest cancelled while they wait, the slot let go: the last one, woken through them, completes.
  for (const id of queued.slice(2, -1)) await must(server, a.token, `mutation($id: ID!) { cancelIngestion(jobId: $id) { stage } }`, { id });
  await letGo();
  for (const id of [queued[0]!, queued.at(-1)!]) expect((await settled(server, a.token, id, 120_000)).stage).toBe('COMPLETED');
}, 240_000);
