/**
 * Inputs of one job that share a source key are applied in input order: the later one wins,
 * as if each had come in a job of its own, one after another. PARSING settled an input as
 * UNCHANGED when its content matched the stored document, before an earlier input of the same
 * job (still to be written) had replaced that document: the earlier input won. A later input
 * now goes on to be written whenever an earlier one of its job writes one of its keys (JobRun,
 * keysToWrite), and after a crash in PARSING, whose earlier inputs' keys are not known, always.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseIdOf } from '../support/global-ids.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { asOwner, untilLockWaiters } from '../support/locks.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const STORED = 'The lock keeper opens the upper gate at dawn.';
const CHANGED = 'The lock keeper closes the lower gate at dusk.';

async function storedText(datasetId: string, sourceKey: string): Promise<string> {
  return asOwner(server, async (client) =>
    (
      await client.query(
        `select string_agg(c.content, ' ' order by c.ordinal) as text from chunks c join documents d on d.id = c.document_id where d.dataset_id = $1 and d.source_key = $2`,
        [databaseIdOf(datasetId), sourceKey],
      )
    ).rows[0].text as string,
  );
}

/** Each input's outcome, in input order. */
async function outcomes(jobId: string): Promise<string[]> {
  return asOwner(server, async (client) => (await client.query(`select outcome from ingestion_items where job_id = $1 order by ordinal`, [databaseIdOf(jobId)])).rows.map((row) => row.outcome as string));
}

async function datasetWith(documents: { title: string; text: string }[]) {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const first = await ingestInline(server, token, dataset.id, documents);
  expect((await settled(server, token, first.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  return { token, dataset };
}

describe('inputs of one job with the same source key', { timeout: 120_000 }, () => {
  it('keep the later one when it brings back what was stored before an earlier one changed it', async () => {
    const { token, dataset } = await datasetWith([{ title: 'lock.md', text: STORED }]);
    const job = await ingestInline(server, token, dataset.id, [
      { title: 'lock.md', text: CHANGED },
      { title: 'lock.md', text: STORED },
    ]);
    const jobId = job.body.data.ingestDocuments.id as string;
    expect((await settled(server, token, jobId)).stage).toBe('COMPLETED');
    expect(await storedText(dataset.id, 'lock.md')).toBe(STORED);
    expect(await outcomes(jobId)).toEqual(['REPLACED', 'REPLACED']);
  });

  it('keep the later one across groups of inputs, and settle an input nothing earlier touches as UNCHANGED', async () => {
    const { token, dataset } = await datasetWith([
      { title: 'lock.md', text: STORED },
      { title: 'weir.md', text: 'The weir holds the river back.' },
    ]);
    // 40 inputs: more than one group (32 at most), so the two lock.md inputs are settled in different transactions.
    const fillers = Array.from({ length: 38 }, (_, index) => ({ title: `note-${index}.md`, text: `Note ${index} about the canal.` }));
    const job = await ingestInline(server, token, dataset.id, [
      { title: 'lock.md', text: CHANGED },
      ...fillers,
      { title: 'weir.md', text: 'The weir holds the river back.' },
      { title: 'lock.md', text: STORED },
    ]);
    const jobId = job.body.data.ingestDocuments.id as string;
    expect((await settled(server, token, jobId)).stage).toBe('COMPLETED');
    expect(await storedText(dataset.id, 'lock.md')).toBe(STORED);
    const settledAs = await outcomes(jobId);
    expect([settledAs[0], settledAs[39], settledAs[40]]).toEqual(['REPLACED', 'UNCHANGED', 'REPLACED']);
  });

  it('keep the later one when PARSING resumes after a crash with an earlier input already PARSED', async () => {
    const { token, dataset } = await datasetWith([
      { title: 'lock.md', text: STORED },
      { title: 'gate.md', text: 'The gate paddles let the water through.' },
    ]);
    const datasetId = databaseIdOf(dataset.id);
    const resumedJobId = await asOwner(server, async (holder) => {
      await holder.query('begin');
      // A job that replaces gate.md waits here, and the dataset's queue with it.
      await holder.query(`select 1 from documents where dataset_id = $1 and source_key = 'gate.md' for update`, [datasetId]);
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const ahead = await ingestInline(server, token, dataset.id, [{ title: 'gate.md', text: 'The gate paddles are wound shut.' }]);
      expect(ahead.body.errors).toBeUndefined();
      await untilLockWaiters(server, { blockedBy: holderPid }, 1, 'statements for the held document');
      const job = await ingestInline(server, token, dataset.id, [
        { title: 'lock.md', text: CHANGED },
        { title: 'lock.md', text: STORED },
      ]);
      const jobId = job.body.data.ingestDocuments.id as string;
      // As a run that parsed the first input and then died would have left it (its parsed documents lost with it).
      await asOwner(server, async (client) => {
        await client.query(`update ingestion_jobs set stage = 'PARSING' where id = $1 and stage = 'QUEUED'`, [databaseIdOf(jobId)]);
        await client.query(`update ingestion_items set status = 'PARSED', document_count = 1 where job_id = $1 and ordinal = (select min(ordinal) from ingestion_items where job_id = $1)`, [databaseIdOf(jobId)]);
      });
      await holder.query('commit');
      expect((await settled(server, token, ahead.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
      return jobId;
    });
    expect((await settled(server, token, resumedJobId)).stage).toBe('COMPLETED');
    expect(await storedText(dataset.id, 'lock.md')).toBe(STORED);
    expect(await outcomes(resumedJobId)).toEqual(['REPLACED', 'REPLACED']);
  });
});
