/**
 * Requests that wait for a job's row lock behind a worker's long transaction (a group of
 * inputs settling a large file holds it for as long as it writes): they wait at most the
 * request lock timeout, one at a time per lock, so the connection pool stays free for everyone
 * else. Before, ten `cancelIngestion` calls parked every pooled connection for minutes.
 *
 * The worker's transaction is played by a connection of the test's own that holds the job's
 * row `FOR KEY SHARE`, as item-groups.ts does, until the test ends it.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataset, ingestInline, tenantWithOwner } from '../support/ingestion.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  // A pool of three: parked requests would take it all at once.
  server = await startTestServer({ env: { SLUICE_DATABASE_POOL_SIZE: '3', SLUICE_REQUEST_LOCK_TIMEOUT_MS: '1500' }, worker: false });
}, 120_000);
afterAll(() => server?.close());

const CANCEL = 'mutation($id: ID!) { cancelIngestion(jobId: $id) { stage } }';

it('lets one cancel wait (bounded), refuses the others at once, and keeps the pool free for other requests', async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const jobId = (await ingestInline(server, token, dataset.id, [{ title: 'Lock', text: 'The lock keeper fills the chamber.' }])).body.data.ingestDocuments.id;
  const worker = new pg.Client({ connectionString: server.database.ownerUrl });
  await worker.connect();
  try {
    await worker.query('begin');
    await worker.query('select 1 from ingestion_jobs where id = $1 for key share', [databaseIdOf(jobId)]);
    const cancels = Promise.all(Array.from({ length: 10 }, () => server.graphql(CANCEL, { token, variables: { id: jobId } })));
    // Once a cancel waits for the row, another tenant-scoped request still gets a connection.
    await untilSomeoneWaitsForALock(worker);
    const other = await server.graphql('{ viewer { tenant { name } } }', { token });
    expect(other.body.errors).toBeUndefined();
    const reasons = (await cancels).map(({ body }) => `${body.errors?.[0]?.extensions?.code}:${body.errors?.[0]?.extensions?.reason}`);
    // One waited the lock timeout; the rest were refused while it waited.
    expect(reasons.filter((reason) => reason === 'UNAVAILABLE:LOCK_TIMEOUT').length).toBeGreaterThanOrEqual(1);
    expect(reasons.filter((reason) => reason === 'UNAVAILABLE:LOCK_BUSY').length).toBeGreaterThanOrEqual(1);
    expect(reasons.filter((reason) => reason !== 'UNAVAILABLE:LOCK_TIMEOUT' && reason !== 'UNAVAILABLE:LOCK_BUSY')).toEqual([]);
  } finally {
    await worker.query('rollback');
    await worker.end();
  }
  // The step over, the cancel goes through.
  const cancelled = await server.graphql(CANCEL, { token, variables: { id: jobId } });
  expect(cancelled.body).toEqual({ data: { cancelIngestion: { stage: 'CANCELLED' } } });
});

async function untilSomeoneWaitsForALock(client: pg.Client): Promise<void> {
  await pollUntil(
    async () => (await client.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`)).rows[0].n as number,
    (waiting) => waiting > 0,
    { failure: () => 'no cancel waited for the job row', timeoutMs: 20_000 },
  );
}
