/**
 * A cancel goes before the group of inputs being written (job-preemption.ts). A group holds its
 * job's row for as long as it writes, minutes for a table of a few hundred thousand rows; a
 * cancel waited for it and failed LOCK_TIMEOUT, so a runaway ingestion could not be stopped.
 *
 * The group is held mid-write, as delete-during-ingestion.test.ts holds it: a connection of the
 * test's own holds the row of a document the group replaces, so the group's first statement
 * waits inside its transaction. The test lets it go once the cancel waits for the job's row.
 * - The cancel wins: the group rolls back at its next statement, its inputs end CANCELLED and
 *   nothing of them is written (before: the group wrote them all, then the cancel ran).
 * - A cancel that asks and then gives up (the job's row held by someone else past the request
 *   lock timeout) leaves the job to go on: the group that yielded runs again and the dataset
 *   ends exactly as without the cancel.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { YIELD_CHECK_MS } from '../../src/domains/job-preemption.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { asOwner, blockedBackend, untilLockWaiters } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_REQUEST_LOCK_TIMEOUT_MS: '3000' } });
}, 120_000);
afterAll(() => server?.close());

const CANCEL = 'mutation($id: ID!) { cancelIngestion(jobId: $id) { stage } }';
const text = (seed: number) => Array.from({ length: 40 }, (_, i) => `sluice${(seed * 31 + i) % 97} gate paddle weir`).join(' ');
const OPTIONS = { chunkSize: 200, chunkOverlap: 40 };
const DOCUMENTS = Array.from({ length: 20 }, (_, index) => ({ title: `note-${index}`, text: text(100 + index) }));

/** A dataset holding note-0 (first version), and a connection holding note-0's row while `during` runs a job replacing it among 20 notes. */
async function withGroupHeld<T>(during: (context: { token: string; jobId: string; holderPid: number; groupPid: number }) => Promise<T>) {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const first = await ingestInline(server, token, dataset.id, [{ title: 'note-0', text: 'The first version of note zero.' }], OPTIONS);
  expect((await settled(server, token, first.body.data.ingestDocuments.id, 60_000)).stage).toBe('COMPLETED');
  const outcome = await asOwner(server, async (holder) => {
    await holder.query('begin');
    await holder.query(`select 1 from documents where dataset_id = $1 and source_key = 'note-0' for update`, [databaseIdOf(dataset.id)]);
    const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const job = await ingestInline(server, token, dataset.id, DOCUMENTS, OPTIONS);
    expect(job.body.errors).toBeUndefined();
    await untilLockWaiters(server, { blockedBy: holderPid, startingWith: 'select id, source_key' }, 1, 'group statements for the held document');
    const groupPid = await blockedBackend(server, holderPid);
    // A group looks for a waiting request at most every YIELD_CHECK_MS: held past it, its next statement looks.
    await pollUntil(
      () => asOwner(server, async (client) => Number((await client.query(`select extract(epoch from now() - query_start) * 1000 as ms from pg_stat_activity where pid = $1`, [groupPid])).rows[0].ms)),
      (ms) => ms > 2 * YIELD_CHECK_MS,
      { timeoutMs: 10_000, failure: (ms) => `the group's statement waited ${ms} ms` },
    );
    try {
      return await during({ token, jobId: job.body.data.ingestDocuments.id, holderPid, groupPid });
    } finally {
      await holder.query('commit');
    }
  });
  return { ...outcome, datasetId: dataset.id };
}

async function datasetState(datasetId: string) {
  return asOwner(server, async (client) => {
    const { rows } = await client.query(
      `select (select count(*)::int from documents where dataset_id = $1) as documents,
              (select count(*)::int from chunks where dataset_id = $1) as chunks,
              (select chunk_count::int from datasets where id = $1) as "countedChunks",
              (select string_agg(content, ' ' order by ordinal) from chunks c join documents d on d.id = c.document_id
                where d.dataset_id = $1 and d.source_key = 'note-0') as "note0"`,
      [databaseIdOf(datasetId)],
    );
    return rows[0];
  });
}

it('cancels a job while a group of its inputs is being written: the group rolls back and writes nothing', { timeout: 120_000 }, async () => {
  const { token, jobId, cancelled, datasetId } = await withGroupHeld(async ({ token, jobId, holderPid, groupPid }) => {
    const cancelling = server.graphql(CANCEL, { token, variables: { id: jobId } });
    // The cancel waits for the job's row, which the group holds while it waits for note-0.
    await untilLockWaiters(server, { except: [holderPid, groupPid] }, 1, 'statements besides the group (the cancel)');
    return { token, jobId, cancelling };
  }).then(async ({ cancelling, ...rest }) => ({ ...rest, cancelled: await cancelling }));

  expect(cancelled.body).toEqual({ data: { cancelIngestion: { stage: 'CANCELLED' } } });
  const { body } = await server.graphql('query($id: ID!) { ingestionJob(id: $id) { stage documents { status } } }', { token, variables: { id: jobId } });
  expect(body.data.ingestionJob.stage).toBe('CANCELLED');
  expect(body.data.ingestionJob.documents.map((document: { status: string }) => document.status)).toEqual(DOCUMENTS.map(() => 'CANCELLED'));
  // Nothing of the job was written: note-0 is the first version alone.
  expect(await datasetState(datasetId)).toEqual({ documents: 1, chunks: 1, countedChunks: 1, note0: 'The first version of note zero.' });

  // What was cancelled runs again on request, to the end.
  const retried = await server.graphql('mutation($id: ID!) { retryIngestion(jobId: $id) { stage } }', { token, variables: { id: jobId } });
  expect(retried.body.errors).toBeUndefined();
  expect((await settled(server, token, jobId, 60_000)).stage).toBe('COMPLETED');
  const after = await datasetState(datasetId);
  expect(after).toMatchObject({ documents: 20, countedChunks: after.chunks });
  expect(after.note0).toContain('gate paddle weir');
});

it('lets the job go on when a cancel asks and then gives up: the group runs again and the dataset ends exact', { timeout: 120_000 }, async () => {
  const { token, jobId, reason, datasetId } = await asOwner(server, async (rowHolder) => {
    const held = await withGroupHeld(async ({ token, jobId, holderPid, groupPid }) => {
      // Someone else holds the job's row too (as a group would), past the cancel's lock timeout.
      await rowHolder.query('begin');
      await rowHolder.query('select 1 from ingestion_jobs where id = $1 for key share', [databaseIdOf(jobId)]);
      const cancelling = server.graphql(CANCEL, { token, variables: { id: jobId } });
      await untilLockWaiters(server, { except: [holderPid, groupPid] }, 1, 'statements besides the group (the cancel)');
      return { token, jobId, cancelling };
    });
    // note-0 let go: the group yields, and the cancel still waits for the other holder until it gives up.
    const answer = await held.cancelling;
    await rowHolder.query('commit');
    return { token: held.token, jobId: held.jobId, datasetId: held.datasetId, reason: answer.body.errors?.[0]?.extensions?.reason };
  });
  expect(reason).toBe('LOCK_TIMEOUT');
  const job = await settled(server, token, jobId, 60_000);
  expect(job.stage).toBe('COMPLETED');
  expect(job.progress).toMatchObject({ documentsTotal: 20, documentsDone: 20, documentsFailed: 0 });
  const after = await datasetState(datasetId);
  expect(after).toMatchObject({ documents: 20, countedChunks: after.chunks });
  expect(after.note0).toContain('gate paddle weir');
  // The dataset's chunk count is the job's: each chunk written once, though the group ran twice.
  expect(job.progress.chunksDone).toBe(after.chunks);
});
