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
import { sluiceEnv, spawnSluice, type SluiceProcess } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

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

  const first = startWorkerProcess();
  const { instanceId } = await first.waitForLog((line) => line.msg === 'job worker started');
  // Kill it once some inputs are written and most are not: after the first group's commit, the
  // dataset's row is taken from outside, so the groups still being written wait for it in their
  // statistics (Migration20261204140000_statistics_lock_order) with their chunks inserted, uncommitted.
  for (;;) {
    const job = await jobOf(server, token, jobId);
    if (job.progress.documentsDone >= 3) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const datasetUuid = Buffer.from(dataset.id, 'base64').toString().split(':')[1];
  await withClient(server.database.ownerUrl, async (holder) => {
    await holder.query('begin');
    await holder.query('select 1 from datasets where id = $1 for no key update', [datasetUuid]);
    first.child.kill('SIGKILL');
    await first.exit;
    await holder.query('commit');
  });
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

  const expected = documents.reduce((sum, document) => sum + chunkText(document.text, CHUNKING).length, 0);
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
