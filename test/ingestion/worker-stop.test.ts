/**
 * A stopped worker leaves no row in worker_instances. stop() removed the process's row without
 * waiting for a heartbeat in flight, which then wrote the row again: a ghost of a stopped
 * process, listed as alive until its heartbeat went stale.
 *
 * The heartbeat is held in the middle of its write, deterministically: the test deletes the
 * instance's row in a transaction it keeps open, so the heartbeat's upsert waits for it (as would
 * the stop's delete, before the fix). Once the stop has either reached its delete or said it waits
 * for the heartbeat, the test commits: the upsert inserts the row anew, and only a stop that waited
 * for it removes it.
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logging/logger.js';
import { asOwner, lockWaiters, untilLockWaiters } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startLateWorker, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let hold: pg.Client | undefined;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_WORKER_HEARTBEAT_MS: '100' }, worker: false });
});
afterAll(async () => {
  await hold?.end().catch(() => undefined);
  await server?.close();
});

it('a heartbeat in flight when the worker stops does not record the stopped instance again', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const worker = await startLateWorker(server, createLogger({ level: 'info', destination: sink }));
  const instanceRows = () => asOwner(server, async (client) => (await client.query(`select id from worker_instances where id = $1`, [worker.instanceId])).rowCount);
  expect(await instanceRows()).toBe(1);

  hold = new pg.Client({ connectionString: server.database.ownerUrl });
  await hold.connect();
  const holder = (await hold.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  await hold.query('begin');
  expect((await hold.query(`delete from worker_instances where id = $1`, [worker.instanceId])).rowCount).toBe(1);
  await untilLockWaiters(server, { blockedBy: holder, startingWith: 'insert into worker_instances' }, 1, 'heartbeat records');

  const stopped = worker.stop();
  // Before the fix the stop went on to its own delete, which waits on the held row too; with it,
  // the stop says it waits for the heartbeat. Either way, what comes next is up to the commit.
  await pollUntil(
    async () => lines.some((line) => line.includes('job worker stops once its heartbeat in flight ends')) || (await lockWaiters(server, { blockedBy: holder, startingWith: 'delete from worker_instances where id' })) > 0,
    (reached) => reached,
    { timeoutMs: 30_000, failure: () => 'the stop neither waited for the heartbeat nor reached its delete' },
  );
  await hold.query('commit');
  await hold.end();
  hold = undefined;
  await stopped;

  expect(await instanceRows()).toBe(0);
}, 60_000);
