/**
 * A `sluice worker` process killed with SIGKILL mid-job: after a restart the job resumes and
 * the dataset ends with exactly the chunks it should have, no duplicates, no losses, and the
 * crash cost exactly one attempt. Its progress (bytesProcessed, which counts work inside
 * inputs not yet settled) never goes back across the crash and ends at the total.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { chunkText } from '../../src/domains/ingestion/chunker.js';
import { createDataset, ingestInline, jobOf, progressOverWebSocket, settled, tenantWithOwner } from '../support/ingestion.js';
import { asOwner, untilLockWaiters } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { sluiceEnv, spawnSluice, type SluiceProcess } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
const workers: SluiceProcess[] = [];
beforeAll(async () => {
  // The API without a worker: only the spawned `sluice worker` processes run jobs.
  server = await startTestServer({ worker: false });
});
afterAll(async () => {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await server?.close();
});

function startWorkerProcess(): SluiceProcess {
  const worker = spawnSluice(['worker'], sluiceEnv(server.database, {
    LOG_LEVEL: 'info',
    SLUICE_WORKER_HEARTBEAT_MS: '200',
    // Far longer than any heartbeat lag on a busy machine: a live worker never looks dead. The
    // test does not wait for the killed worker to count as gone; it backdates its heartbeat.
    SLUICE_WORKER_STALE_MS: '120000',
  }));
  workers.push(worker);
  return worker;
}

const CHUNKING = { size: 300, overlap: 50 };
// Four groups of inputs (item-groups.ts takes 32 a group), two settled at once.
const documents = Array.from({ length: 100 }, (_, d) => ({
  title: `doc-${d}`,
  text: Array.from({ length: 12 }, (_, p) => `Document ${d}, paragraph ${p}. ${'Words that make the paragraph longer. '.repeat(8)}`).join('\n\n'),
}));

it('resumes a job after its worker is SIGKILLed, with exactly the right chunks', async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestInline(server, token, dataset.id, documents, { chunkSize: CHUNKING.size, chunkOverlap: CHUNKING.overlap });
  const jobId = body.data.ingestDocuments.id;

  // Kill it once some inputs are committed and the rest are not, whatever the worker's speed:
  // an outside transaction holds, uncommitted, documents with the keys of the first input of
  // every group but the first (item-groups.ts: 32 inputs a group, two written at once). Those
  // groups wait on it at their first document, before any chunk or statistic of theirs is
  // written; the first group commits; the fourth cannot start while the second and third wait.
  const datasetUuid = databaseIdOf(dataset.id);
  const committedChunks = () => asOwner(server, async (client) => (await client.query('select count(*)::int as n from chunks where dataset_id = $1', [datasetUuid])).rows[0].n as number);
  const groupStarts = ['doc-32', 'doc-64', 'doc-96'];
  const { instanceId, committed } = await withClient(server.database.ownerUrl, async (blocker) => {
    await blocker.query('begin');
    await blocker.query(
      `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, metadata, created_at, updated_at)
       select gen_random_uuid(), d.tenant_id, d.id, key, key, 'text/plain', 'held by the test', 0, 0, '{}', now(), now()
         from datasets d, unnest($2::text[]) as key where d.id = $1`,
      [datasetUuid, groupStarts],
    );
    const blockerPid = (await blocker.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const worker = startWorkerProcess();
    const started = await worker.waitForLog((line) => line.msg === 'job worker started');
    await untilLockWaiters(server, { blockedBy: blockerPid }, 2, 'groups');
    const written = await pollUntil(committedChunks, (n) => n > 0, { timeoutMs: 60_000, failure: () => 'the first group did not commit' });
    worker.child.kill('SIGKILL');
    await worker.exit;
    await blocker.query('rollback');
    return { instanceId: started.instanceId, committed: written };
  });
  const expected = documents.reduce((sum, document) => sum + chunkText(document.text, CHUNKING).length, 0);
  expect(committed).toBe(await committedChunks());
  expect(committed).toBeLessThan(expected);
  const interrupted = await jobOf(server, token, jobId);
  expect(interrupted.stage).toBe('CHUNKING');
  expect(interrupted.progress.documentsDone).toBeLessThan(documents.length);
  expect(interrupted.progress.bytesProcessed).toBeGreaterThanOrEqual(interrupted.progress.bytesDone);
  expect(interrupted.progress.bytesProcessed).toBeLessThan(interrupted.progress.bytesTotal);
  // Watched from before the second worker starts (it publishes on its own bus: this sees the job as polled).
  const watching = progressOverWebSocket(server.wsUrl, token, jobId);

  // The killed process's heartbeat, as it will look once SLUICE_WORKER_STALE_MS has passed.
  await withClient(server.database.ownerUrl, (client) =>
    client.query(`update worker_instances set heartbeat_at = now() - interval '1 hour' where id = $1`, [instanceId]),
  );
  const second = startWorkerProcess();
  await second.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('unlocked the jobs of workers'));
  const job = await settled(server, token, jobId, 90_000);
  expect(job.stage).toBe('COMPLETED');
  expect(job.attempts).toBe(2);
  expect(job.progress).toMatchObject({ documentsDone: documents.length, documentsFailed: 0, bytesDone: job.progress.bytesTotal, bytesProcessed: job.progress.bytesTotal, percent: 100 });
  const processed = (await watching).map((result) => result.data.ingestionProgress.bytesProcessed);
  expect(processed).toEqual([...processed].sort((a, b) => a - b));
  expect(processed[0]).toBeGreaterThanOrEqual(interrupted.progress.bytesProcessed);
  expect(processed.at(-1)).toBe(job.progress.bytesTotal);

  const counts = await withClient(server.database.ownerUrl, async (client) =>
    (
      await client.query(
        `select (select count(*) from chunks where dataset_id = $1)::int as chunks,
                (select count(distinct (document_id, ordinal)) from chunks where dataset_id = $1)::int as distinct_chunks,
                (select count(*) from documents where dataset_id = $1)::int as documents,
                (select sum(chunk_count) from documents where dataset_id = $1)::int as counted,
                (select chunk_count from datasets where id = $1)::int as dataset_chunks`,
        [datasetUuid],
      )
    ).rows[0],
  );
  expect(counts).toEqual({ chunks: expected, distinct_chunks: expected, documents: documents.length, counted: expected, dataset_chunks: expected });
  expect(job.progress.chunksDone).toBe(expected);
  second.child.kill('SIGTERM');
  expect(await second.exit).toBe(0);
}, 180_000);
