/**
 * What a parked ingestion job (waiting-jobs.ts) must not cost or break (review of 2026-12-07):
 * - a job ended while it waits (cancelled, or deleted with its dataset) leaves no queue entry,
 *   so "ingest, cancel" in a loop does not grow the queue past SLUICE_INGEST_MAX_QUEUED_JOBS;
 * - a dataset's queue runs its jobs in the order they were queued, a job woken from parking
 *   included;
 * - a wake-up that fails after a job has parked does not fail the job;
 * - the heartbeat's sweep fails neither the worker's start nor runs twice at once;
 * - one tenant's parked entry held by a long transaction delays no other tenant's wake-up.
 *
 * Through the real server, its inline worker (graphile-worker) and PostgreSQL. The test holds
 * tenant A's one slot (SLUICE_WORKER_CONCURRENCY 2 − 1) on a connection of its own, as a job
 * running in another worker would. A failing wake-up is a real one: graphile-worker's
 * `reschedule_jobs`, which every wake-up calls, is renamed away in this file's own database
 * (as a lost connection or a lock timeout would fail it), then put back.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { must } from '../support/endpoints.js';
import { createDataset, ingestInline, jobOf, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const MAX_QUEUED = 4;
const ENV = { SLUICE_WORKER_CONCURRENCY: '2', SLUICE_WORKER_HEARTBEAT_MS: '200', SLUICE_INGEST_MAX_QUEUED_JOBS: String(MAX_QUEUED) };
let server: TestServer;
const holds = new Set<pg.Client>();
beforeAll(async () => {
  server = await startTestServer({ env: ENV });
});
afterAll(async () => {
  for (const hold of holds) await hold.end().catch(() => undefined);
  await withheldWakeUps(false).catch(() => undefined);
  await server?.close();
});

const uuidOf = databaseIdOf;
const CANCEL = `mutation($id: ID!) { cancelIngestion(jobId: $id) { stage } }`;
const RETRY = `mutation($id: ID!) { retryIngestion(jobId: $id) { stage } }`;
const owner = <T>(work: (client: pg.Client) => Promise<T>) => withClient(server.database.ownerUrl, work);

/** A connection of the test's own, closed at the end if the test has not closed it. */
async function connection(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.database.ownerUrl });
  await client.connect();
  holds.add(client);
  return client;
}
const close = async (client: pg.Client) => {
  await client.end();
  holds.delete(client);
};

/** Takes the tenant's one slot, as a job running elsewhere holds it; resolves to letting it go (without waking anyone). */
async function holdSlot(tenant: Tenant): Promise<() => Promise<void>> {
  const hold = await connection();
  // The slot's advisory lock, named as src/domains/ingestion/tenant-slots.ts names it.
  await hold.query('select pg_advisory_lock(hashtextextended($1, 0))', [`ingestion-tenant-slot:${tenant.tenant.id}:0`]);
  return () => close(hold);
}

/** Every wake-up fails (true) or works again (false): graphile-worker's reschedule_jobs renamed away and back. */
function withheldWakeUps(withheld: boolean): Promise<void> {
  const [from, to] = withheld ? ['reschedule_jobs', 'reschedule_jobs_withheld'] : ['reschedule_jobs_withheld', 'reschedule_jobs'];
  return owner(async (client) => {
    await client.query(`do $$ declare f regprocedure; begin
        select p.oid into f from pg_proc p where p.proname = '${from}' and p.pronamespace = 'graphile_worker'::regnamespace;
        if f is not null then execute format('alter function %s rename to ${to}', f); end if;
      end $$`);
  });
}

/** The queue's entries (keyed or not) of these jobs. */
function queueEntries(jobIds: string[]): Promise<{ id: string; key: string | null; last_error: string | null; run_at: Date }[]> {
  return owner(async (client) =>
    (await client.query(`select id, key, last_error, run_at from graphile_worker._private_jobs where payload->>'jobId' = any($1) order by id`, [jobIds.map(uuidOf)])).rows,
  );
}

/** Resolves once none of these jobs has a queue entry. A job's stage reads COMPLETED before
 * graphile-worker removes its entry (when the task function returns), so this is awaited, not read once. */
function noEntriesLeft(jobIds: string[], timeoutMs = 15_000) {
  return pollUntil(() => queueEntries(jobIds), (rows) => rows.length === 0, {
    timeoutMs,
    failure: (rows) => `queue entries left of ended jobs: ${JSON.stringify(rows)}`,
  });
}

/** Resolves once the worker has logged a line for this job matching `pattern`; to the line. */
function logged(jobId: string, pattern: RegExp, timeoutMs = 30_000) {
  return pollUntil(
    async () => server.logs.find((line) => line.jobId === uuidOf(jobId) && pattern.test(String(line.msg))),
    (line) => line !== undefined,
    { timeoutMs, failure: () => `no log line for job ${jobId} matching ${pattern}` },
  ).then((line) => line!);
}
const PARKED = /waits for one of its tenant's|waits behind an older job/;

it('a job cancelled while it waits (or queued), retried and cancelled again, or deleted with its dataset, leaves no queue entry, and the cap still admits new jobs', async () => {
  const a = await tenantWithOwner(server);
  const letGo = await holdSlot(a);
  const dataset = await createDataset(server, a.token);
  const ended: string[] = [];
  // Twice the cap, so entries that stayed behind would pass it.
  for (let i = 0; i < 2 * MAX_QUEUED; i += 1) {
    const { body } = await ingestInline(server, a.token, dataset.id, [{ title: `Note ${i}`, text: 'The tide rises twice a day.' }]);
    const id: string = body.data.ingestDocuments.id;
    ended.push(id);
    // Every other job is cancelled once it is parked, the rest as soon as they are queued.
    if (i % 2 === 0) await logged(id, PARKED);
    await must(server, a.token, CANCEL, { id });
    if (i % 4 === 0) {
      await must(server, a.token, RETRY, { id });
      await logged(id, PARKED);
      await must(server, a.token, CANCEL, { id });
    }
  }
  // Deleting a dataset with waiting jobs removes their entries too.
  const doomed = await createDataset(server, a.token);
  for (const title of ['Weir', 'Lock']) {
    const { body } = await ingestInline(server, a.token, doomed.id, [{ title, text: 'A weir holds water back.' }]);
    ended.push(body.data.ingestDocuments.id);
    await logged(body.data.ingestDocuments.id, PARKED);
  }
  await must(server, a.token, `mutation($id: ID!) { deleteDataset(id: $id) { id } }`, { id: doomed.id });

  // The slot is still held: nothing else would take these entries away.
  await noEntriesLeft(ended);
  for (const id of ended.slice(0, 2 * MAX_QUEUED)) expect((await jobOf(server, a.token, id)).stage).toBe('CANCELLED');

  // The cap admits a full set of new jobs, which run once the slot is let go.
  const fresh: string[] = [];
  for (let i = 0; i < MAX_QUEUED; i += 1) {
    const { body } = await ingestInline(server, a.token, dataset.id, [{ title: `Fresh ${i}`, text: 'The tide falls twice a day.' }]);
    expect(body.errors).toBeUndefined();
    fresh.push(body.data.ingestDocuments.id);
  }
  await letGo();
  for (const id of fresh) expect((await settled(server, a.token, id, 60_000)).stage).toBe('COMPLETED');
  await noEntriesLeft([...ended, ...fresh]);
}, 180_000);

it("runs a dataset's jobs in the order they were queued, a parked job before a later one given a free slot", async () => {
  const a = await tenantWithOwner(server);
  const letGo = await holdSlot(a);
  const dataset = await createDataset(server, a.token);
  const ingest = async (text: string) => (await ingestInline(server, a.token, dataset.id, [{ title: 'Tide table', text }])).body.data.ingestDocuments.id as string;
  const first = await ingest('High water at six.');
  await logged(first, PARKED);
  // Nothing can wake the parked job now; the slot frees, and a later job of the dataset comes.
  await withheldWakeUps(true);
  try {
    await letGo();
    const second = await ingest('High water at seven, by the new tables.');
    // Either it ran at once, ahead of the first (the defect), or it parked behind it.
    await pollUntil(
      async () => (await jobOf(server, a.token, second)).stage === 'COMPLETED' || server.logs.some((line) => line.jobId === uuidOf(second) && PARKED.test(String(line.msg))),
      (seen) => seen,
      { timeoutMs: 30_000, failure: () => 'the second job was not looked at' },
    );
    await withheldWakeUps(false);
    const [one, two] = [await settled(server, a.token, first, 60_000), await settled(server, a.token, second, 60_000)];
    expect([one.stage, two.stage]).toEqual(['COMPLETED', 'COMPLETED']);
    const times = await must(server, a.token, `query($a: ID!, $b: ID!) { a: node(id: $a) { ... on IngestionJob { startedAt finishedAt } } b: node(id: $b) { ... on IngestionJob { startedAt finishedAt } } }`, { a: first, b: second });
    expect(new Date(times.a.finishedAt).getTime()).toBeLessThanOrEqual(new Date(times.b.startedAt).getTime());
    // The later text is the one kept.
    const docs = await must(server, a.token, `query($id: ID!) { node(id: $id) { ... on Dataset { documents(first: 5) { edges { node { title bytes } } } } } }`, { id: dataset.id });
    expect(docs.node.documents.edges.map((edge: any) => edge.node)).toEqual([{ title: 'Tide table', bytes: Buffer.byteLength('High water at seven, by the new tables.') }]);
  } finally {
    await withheldWakeUps(false);
  }
}, 120_000);

it('a wake-up that fails once a job has parked is logged, and neither fails the job nor leaves a failed queue entry', async () => {
  const a = await tenantWithOwner(server);
  const letGo = await holdSlot(a);
  const dataset = await createDataset(server, a.token);
  await withheldWakeUps(true);
  let jobId: string;
  try {
    jobId = (await ingestInline(server, a.token, dataset.id, [{ title: 'Weir', text: 'A weir holds water back.' }])).body.data.ingestDocuments.id;
    const line = await logged(jobId, /waits for one of its tenant's|ingestion job failed/);
    expect(line.msg).toMatch(/waits for one of its tenant's/);
    expect(server.logs.some((entry) => entry.jobId === uuidOf(jobId) && /could not wake the next waiting ingestion job/.test(String(entry.msg)))).toBe(true);
    // The entry that ran until the job parked goes when its task returns, just after that line:
    // awaited, then the one left is the parked copy, with no error.
    const entries = await pollUntil(() => queueEntries([jobId]), (rows) => rows.length === 1, {
      timeoutMs: 15_000,
      failure: (rows) => `queue entries of the parked job: ${JSON.stringify(rows)}`,
    });
    expect(entries.map((entry) => [entry.key, entry.last_error])).toEqual([[`ingest:${uuidOf(jobId)}`, null]]);
  } finally {
    await withheldWakeUps(false);
  }
  // The heartbeat's sweep wakes it once the slot frees.
  await letGo();
  expect(await settled(server, a.token, jobId, 60_000)).toMatchObject({ stage: 'COMPLETED', attempts: 1 });
  await noEntriesLeft([jobId]);
}, 120_000);

it("a worker starts while the heartbeat's sweep fails", async () => {
  // Start-up: every wake-up fails, and a second server (and worker) starts on the same database.
  await withheldWakeUps(true);
  try {
    const second = await startTestServer({ env: ENV, database: server.database });
    await pollUntil(async () => second.logs.some((line) => /the tasks' heartbeat failed/.test(String(line.msg))), (seen) => seen, {
      timeoutMs: 30_000,
      failure: () => 'the failed sweep was not logged',
    });
    await second.close();
  } finally {
    await withheldWakeUps(false);
  }
}, 120_000);

it("the heartbeat's sweep never runs twice at once, nor waits for another", async () => {
  // The sweeps' own lock (taken in turn, across processes) held by the test, as a sweep running
  // in another process holds it: this process's sweeps skip their turn rather than wait for it
  // (a sweep stuck elsewhere would hold up this heartbeat, and a stopping worker with it).
  const a = await tenantWithOwner(server);
  const letGo = await holdSlot(a);
  const dataset = await createDataset(server, a.token);
  const jobId: string = (await ingestInline(server, a.token, dataset.id, [{ title: 'Pier', text: 'The pier reaches past the breakers.' }])).body.data.ingestDocuments.id;
  await logged(jobId, PARKED);
  const sweeps = await connection();
  // Named as src/domains/ingestion/waiting-jobs.ts names it (SWEEP_LOCK).
  await sweeps.query('select pg_advisory_lock(hashtextextended($1, 0))', ['ingestion-waiting-sweep']);
  // The slot freed without waking anyone: only a sweep would wake the job now.
  await letGo();
  const beats = new Set<string>();
  const waiting = () =>
    owner(async (client) => {
      beats.add(String((await client.query(`select max(heartbeat_at) as at from worker_instances`)).rows[0]!.at?.toISOString()));
      const { rows } = await client.query(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory' and query like 'select pg_%advisory_xact_lock(%'`,
      );
      return rows[0].n as number;
    });
  // Several heartbeats pass, each finding the lock taken: none waits for it, and none sweeps.
  await waiting();
  const seenAt = beats.size;
  const waits = new Set<number>();
  await pollUntil(async () => (waits.add(await waiting()), beats.size), (size) => size >= seenAt + 4, { timeoutMs: 30_000, failure: (size) => `saw ${size - seenAt} heartbeats` });
  expect([...waits]).toEqual([0]);
  expect(server.logs.some((line) => /this heartbeat skips its sweep/.test(String(line.msg)))).toBe(true);
  expect((await jobOf(server, a.token, jobId)).stage).toBe('QUEUED');
  await close(sweeps);
  expect((await settled(server, a.token, jobId, 60_000)).stage).toBe('COMPLETED');
}, 180_000);

it("one tenant's parked entry held by a long transaction delays no other tenant's wake-up", async () => {
  // Tenant A's parked entry held FOR UPDATE, as a slow request removing it (dequeue_ingestion) holds it.
  const [a, b] = [await tenantWithOwner(server), await tenantWithOwner(server)];
  const letGoA = await holdSlot(a);
  const letGoB = await holdSlot(b);
  const park = async (tenant: Tenant, title: string) => {
    const dataset = await createDataset(server, tenant.token);
    const jobId: string = (await ingestInline(server, tenant.token, dataset.id, [{ title, text: 'The lock keeper opens the upper gate.' }])).body.data.ingestDocuments.id;
    await logged(jobId, PARKED);
    return jobId;
  };
  const [jobA, jobB] = [await park(a, 'Upper gate'), await park(b, 'Lower gate')];
  const row = await connection();
  await row.query('begin');
  expect((await row.query(`select 1 from graphile_worker._private_jobs where key = $1 for update`, [`ingest:${uuidOf(jobA)}`])).rowCount).toBe(1);
  // Both slots free without waking anyone (the wake-ups lost): only the heartbeat's sweep wakes
  // the two jobs. A's stays held; B's runs to its end meanwhile.
  await letGoA();
  await letGoB();
  try {
    expect((await settled(server, b.token, jobB, 30_000)).stage).toBe('COMPLETED');
    expect((await jobOf(server, a.token, jobA)).stage).toBe('QUEUED');
  } finally {
    await row.query('rollback');
    await close(row);
  }
  expect((await settled(server, a.token, jobA, 60_000)).stage).toBe('COMPLETED');
}, 120_000);
