/**
 * One crash, two runners (issue 17, item 12). graphile-worker 0.17 locks a job with its
 * worker pool's id, but each process recorded only its workers' ids with its heartbeat, so
 * every job running longer than SLUICE_WORKER_STALE_MS looked abandoned: its lock was lifted
 * under the live runner and the process's other worker ran it at the same time (after a crash
 * and restart too), spending attempts. These tests hold a job in the middle of its run (a
 * transaction keeps its dataset row locked FOR NO KEY UPDATE: the job can be created, which
 * only needs a key share of the row, but the runner waits at its first write, which locks the
 * row FOR UPDATE) and check that the job keeps one runner.
 */
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestInline, jobOf, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  // Two workers in the process, and a short staleness: a job held for a few seconds runs
  // "longer than stale" many times over.
  server = await startTestServer({ env: { SLUICE_WORKER_CONCURRENCY: '2', SLUICE_WORKER_HEARTBEAT_MS: '100', SLUICE_WORKER_STALE_MS: '1000' } });
});
/** Holds still open when a test failed: ended first, or the server's close would wait on them. */
const openHolds = new Set<pg.Client>();
afterAll(async () => {
  for (const hold of openHolds) await hold.end().catch(() => undefined);
  await server?.close();
});

const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 150_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await stateForTheRecord()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/**
 * What the queue, the database and the server said, for a failure message: a wait that never
 * ends is otherwise a bare timeout (CI once saw one, under load, that no local run repeated).
 */
async function stateForTheRecord(): Promise<string> {
  const state = await withClient(server.database.ownerUrl, async (client) => ({
    queue: (await client.query(`select task_identifier, key, attempts, last_error, locked_by, locked_at, run_at from graphile_worker.jobs`)).rows,
    workers: (await client.query(`select * from worker_instances`)).rows,
    activity: (await client.query(`select state, wait_event_type, wait_event, left(query, 120) as query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`)).rows,
  })).catch((error: unknown) => ({ unreadable: String(error) }));
  const logs = server.logs.slice(-25).map((line) => JSON.stringify(line).slice(0, 400));
  return `${JSON.stringify(state, null, 1)}\nlast server log lines:\n${logs.join('\n')}`;
}

/** Starts a job and holds it at its first write (CHUNKING), returning how to let it go. */
async function heldJob(owner: Tenant) {
  const dataset = await createDataset(server, owner.token);
  const hold = await import('pg').then(({ default: pgModule }) => new pgModule.Client({ connectionString: server.database.ownerUrl }));
  await hold.connect();
  openHolds.add(hold);
  await hold.query('begin');
  await hold.query(`select set_config('app.tenant_id', $1, true)`, [owner.tenant.id]);
  const { rowCount } = await hold.query('select 1 from datasets where id = $1 for no key update', [databaseIdOf(dataset.id)]);
  expect(rowCount).toBe(1);
  const documents = Array.from({ length: 3 }, (_, i) => ({ title: `doc-${i}`, text: `Document ${i}. The lamp is wound at dusk.` }));
  const { body } = await ingestInline(server, owner.token, dataset.id, documents);
  const jobId: string = body.data.ingestDocuments.id;
  await until(() => aSessionWaitsOnALock(), 'the runner to wait for the dataset row');
  const release = async () => {
    await hold.query('commit');
    await hold.end();
    openHolds.delete(hold);
  };
  return { jobId, hold, release };
}

/**
 * Asked on a connection of its own: inside the hold's transaction, pg_stat_activity is a
 * snapshot taken at its first read and kept to the transaction's end, so a first look taken
 * before the runner reached the row (a busy machine) saw no waiter ever after (CI, twice).
 */
async function aSessionWaitsOnALock(): Promise<boolean> {
  const { rows } = await withClient(server.database.ownerUrl, (client) =>
    client.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`),
  );
  return rows[0].n > 0;
}

async function queueRow(key: string) {
  return withClient(server.database.ownerUrl, async (client) => (await client.query(`select locked_by, locked_at, run_at from graphile_worker.jobs where key = $1`, [key])).rows[0]);
}

it('a job running longer than the staleness period keeps its one runner (its lock is not lifted)', async () => {
  const owner = await tenantWithOwner(server);
  const { jobId, release } = await heldJob(owner);
  const key = `ingest:${databaseIdOf(jobId)}`;
  const lockedBy = (await queueRow(key)).locked_by;
  expect(lockedBy).toMatch(/^pool-/);
  // Wait until the lock is three staleness periods old and a heartbeat (with its recovery
  // pass) has run since: the old code lifted it at the first such pass.
  await until(async () => {
    const { rows } = await withClient(server.database.ownerUrl, (client) =>
      client.query(`select (select max(heartbeat_at) from worker_instances) > j.locked_at + interval '3 seconds' as passed from graphile_worker.jobs j where key = $1`, [key]),
    );
    return rows[0]?.passed === true;
  }, 'three staleness periods and a heartbeat');
  expect((await queueRow(key))?.locked_by).toBe(lockedBy);
  expect(server.logs.some((line) => typeof line.msg === 'string' && line.msg.startsWith('unlocked the jobs of workers'))).toBe(false);
  await release();
  const job = await settled(server, owner.token, jobId, 60_000);
  expect(job).toMatchObject({ stage: 'COMPLETED', attempts: 1 });
  expect(job.progress).toMatchObject({ documentsDone: 3, documentsFailed: 0 });
}, 300_000);

it('a second runner given a job whose lock was lifted leaves it to the first, costing no attempt', async () => {
  const owner = await tenantWithOwner(server);
  const { jobId, release } = await heldJob(owner);
  const key = `ingest:${databaseIdOf(jobId)}`;
  const first = (await queueRow(key)).locked_by;
  // What the old recovery did to a live runner: lift the queue's lock. The process's other
  // worker takes the job at once.
  const seen = server.logs.length;
  await withClient(server.database.ownerUrl, (client) => client.query('select graphile_worker.force_unlock_workers($1::text[])', [[first]]));
  await until(async () => server.logs.slice(seen).some((line) => line.msg === 'ingestion job is held by another runner; looking again later' && line.jobId === databaseIdOf(jobId)), 'the second runner to step back');
  // It queued a later look at the job, in the job's own queue.
  const later = await queueRow(key);
  expect(later.run_at.getTime()).toBeGreaterThan(Date.now() - 1000);
  expect((await jobOf(server, owner.token, jobId)).attempts).toBe(1);

  await release();
  const job = await settled(server, owner.token, jobId, 60_000);
  expect(job).toMatchObject({ stage: 'COMPLETED', attempts: 1 });
  // The later look finds the job ended and leaves it so: nothing ran twice.
  await until(async () => (await queueRow(key)) === undefined, 'the later look to run');
  const after = await jobOf(server, owner.token, jobId);
  expect(after).toMatchObject({ stage: 'COMPLETED', attempts: 1 });
  expect(after.progress).toMatchObject({ documentsDone: 3, documentsFailed: 0, chunksDone: 3 });
}, 300_000);
