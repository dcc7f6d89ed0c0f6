/**
 * Deleting while a job of the dataset writes a group of inputs: the delete and the group's
 * transaction must neither deadlock nor fail the job's attempt. The group holds its job's row
 * (KEY SHARE), then its documents' rows one input after another, and the dataset's row once a
 * statement of it changes chunks (the statistics trigger).
 *
 * - A dataset: the delete took the dataset's and documents' rows first and reached the job's row
 *   last, by the cascade. It now takes the dataset's jobs first (DatasetService.delete), waits for
 *   the groups being written, and the job stops cleanly at its next group. Before that, this test
 *   failed five of eight runs: three times the delete lost a deadlock (an internal error to the
 *   caller), once the group's INSERT failed its attempt; which side loses is PostgreSQL's choice,
 *   so a regression may pass a run now and then.
 * - A document (`deleteDocument`, and retention): `delete_documents` took the document's row,
 *   then the dataset's; a group that had replaced an earlier input's document held the dataset's
 *   row and wanted that document next. The user's delete failed with a deadlock in three runs of
 *   three. It now takes the running jobs of the documents' datasets first
 *   (Migration20261204193000_document_delete_lock_order), and retention does so before it picks
 *   its documents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDocumentRetention } from '../../src/domains/datasets/document-retention.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { asOwner, blockedBackend, untilLockWaiters } from '../support/locks.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const text = (seed: number) => Array.from({ length: 40 }, (_, i) => `sluice${(seed * 31 + i) % 97} gate paddle weir`).join(' ');
const OPTIONS = { chunkSize: 200, chunkOverlap: 40 };

describe('deleting a dataset while its job writes', { timeout: 120_000 }, () => {
  it('deletes it without a deadlock, and the job stops cleanly', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const datasetId = databaseIdOf(dataset.id);
    const first = await ingestInline(server, token, dataset.id, [{ title: 'note-0', text: text(0) }], OPTIONS);
    expect((await settled(server, token, first.body.data.ingestDocuments.id, 60_000)).stage).toBe('COMPLETED');
    const logsBefore = server.logs.length;

    const removed = await asOwner(server, async (holder) => {
      await holder.query('begin');
      // The job's first group replaces note-0 and waits for its row, inside the group's transaction.
      await holder.query(`select 1 from documents where dataset_id = $1 and source_key = 'note-0' for update`, [datasetId]);
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const documents = Array.from({ length: 70 }, (_, index) => ({ title: `note-${index}`, text: text(100 + index) }));
      const job = await ingestInline(server, token, dataset.id, documents, OPTIONS);
      expect(job.body.errors).toBeUndefined();
      await untilLockWaiters(server, { blockedBy: holderPid, startingWith: 'select id, source_key' }, 1, 'group statements for the held document');
      const deleting = server.graphql(`mutation($id: ID!) { deleteDataset(id: $id) { id } }`, { token, variables: { id: dataset.id } });
      // The delete waits too: for the group's job (or, before the fix, for the held document).
      const groupPid = await blockedBackend(server, holderPid);
      await untilLockWaiters(server, { except: [holderPid, groupPid] }, 1, 'statements besides the group (the delete alone)');
      await holder.query('commit');
      return deleting;
    });
    expect(removed.body.errors).toBeUndefined();
    expect(removed.body.data.deleteDataset.id).toBe(dataset.id);

    const left = await asOwner(server, async (client) =>
      (
        await client.query(
          `select (select count(*)::int from datasets where id = $1) as datasets, (select count(*)::int from ingestion_jobs where dataset_id = $1) as jobs,
                  (select count(*)::int from documents where dataset_id = $1) as documents, (select count(*)::int from chunks where dataset_id = $1) as chunks,
                  (select count(*)::int from dataset_terms where dataset_id = $1) as terms`,
          [datasetId],
        )
      ).rows[0],
    );
    expect(left).toEqual({ datasets: 0, jobs: 0, documents: 0, chunks: 0, terms: 0 });
    // No attempt of the job failed on the way (a deadlock, a foreign key): nothing logged at error.
    const errors = server.logs.slice(logsBefore).filter((line) => line.level >= 50 || /deadlock|foreign key/i.test(JSON.stringify(line)));
    expect(errors.map((line) => JSON.stringify(line).slice(0, 300))).toEqual([]);
  });
});

/** A document's global id, as the API gives it. */
function globalId(documentId: string): string {
  return Buffer.from(`Document:${documentId}`).toString('base64');
}

/**
 * A dataset holding note-0 and note-1, then a job replacing both, stopped inside its group on the
 * dataset's row (held here) after it took note-0's; `remove` starts meanwhile and must wait for a
 * lock too before the row is let go. What `remove` answered, once the job has ended.
 */
async function removeDuringReplacement<T>(remove: (token: string, noteOne: string) => Promise<T>, { retentionHours }: { retentionHours?: number } = {}) {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const datasetId = databaseIdOf(dataset.id);
  if (retentionHours) {
    await asOwner(server, (client) => client.query('update datasets set document_retention_hours = $2 where id = $1', [datasetId, retentionHours]));
  }
  const notes = (seed: number) => [0, 1].map((index) => ({ title: `note-${index}`, text: text(seed + index) }));
  const first = await ingestInline(server, token, dataset.id, notes(0), OPTIONS);
  expect((await settled(server, token, first.body.data.ingestDocuments.id, 60_000)).stage).toBe('COMPLETED');
  const noteOne = await asOwner(server, async (client) =>
    (await client.query(`select id from documents where dataset_id = $1 and source_key = 'note-1'`, [datasetId])).rows[0].id as string,
  );
  const logsBefore = server.logs.length;

  const { removed, jobId } = await asOwner(server, async (holder) => {
    await holder.query('begin');
    // The group replaces note-0 first: deleting its old chunks needs the dataset's row, held here.
    await holder.query(`select 1 from datasets where id = $1 for no key update`, [datasetId]);
    const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const job = await ingestInline(server, token, dataset.id, notes(100), OPTIONS);
    expect(job.body.errors).toBeUndefined();
    await untilLockWaiters(server, { blockedBy: holderPid, startingWith: 'delete from chunks' }, 1, 'group statements for the held dataset');
    const groupPid = await blockedBackend(server, holderPid);
    // Before the fix the delete took note-1's row (which the group replaces next) and queued
    // behind the group for the dataset's; now it waits for the group's job.
    const removing = remove(token, noteOne);
    await untilLockWaiters(server, { except: [holderPid, groupPid] }, 1, 'statements besides the group (the delete alone)');
    await holder.query('commit');
    return { removed: await removing.catch((error: unknown) => error), jobId: job.body.data.ingestDocuments.id as string };
  });
  const job = await settled(server, token, jobId, 60_000);
  const replacementChunks = (job.progress as { chunksDone: number }).chunksDone;
  const left = await asOwner(server, async (client) =>
    (
      await client.query(
        `select array(select source_key from documents where dataset_id = $1 order by source_key) as documents,
                s.document_count::int as "documentCount", s.chunk_count::int as "chunkCount",
                (select count(*)::int from chunks where dataset_id = $1) as "chunksCounted"
           from datasets s where s.id = $1`,
        [datasetId],
      )
    ).rows[0],
  );
  // No attempt of the job failed on the way (a deadlock): nothing logged at error.
  const errors = server.logs.slice(logsBefore).filter((line) => line.level >= 50 || /deadlock|foreign key/i.test(JSON.stringify(line)));
  return { removed, noteOne, stage: job.stage, replacementChunks, left, errors: errors.map((line) => JSON.stringify(line).slice(0, 300)) };
}

describe('deleting documents while a job replaces them', { timeout: 120_000 }, () => {
  it('deleteDocument waits for the group that replaces the document, then deletes it', async () => {
    const outcome = await removeDuringReplacement((token, noteOne) =>
      server.graphql(`mutation($id: ID!) { deleteDocument(id: $id) { id sourceKey } }`, { token, variables: { id: globalId(noteOne) } }),
    );
    const { body } = outcome.removed as { body: { errors?: unknown; data: { deleteDocument: unknown } } };
    expect(body.errors).toBeUndefined();
    expect(body.data.deleteDocument).toEqual({ id: globalId(outcome.noteOne), sourceKey: 'note-1' });
    expect(outcome.stage).toBe('COMPLETED');
    // After the group: note-0's new text stays, note-1 is gone, the counts agree.
    expect(outcome.left.documents).toEqual(['note-0']);
    expect(outcome.left.documentCount).toBe(1);
    expect(outcome.left.chunkCount).toBe(outcome.left.chunksCounted);
    expect(outcome.left.chunkCount).toBeGreaterThan(0);
    expect(outcome.errors).toEqual([]);
  });

  it('retention waits for the group too, then removes both expired documents', async () => {
    const secrets = secretsOf(server);
    // A period of one hour and a clock two days on: both notes have expired, replaced or not.
    const outcome = await removeDuringReplacement(
      () => asOwner(server, (client) => applyDocumentRetention(client, secrets, new Date(Date.now() + 48 * 3_600_000))),
      { retentionHours: 1 },
    );
    // Run after the group: the chunks it removed are the replacements' (40 words in 200-character chunks: several each).
    expect(outcome.removed instanceof Error ? outcome.removed.message : null).toBeNull();
    const { documentsDeleted, chunksDeleted } = outcome.removed as { documentsDeleted: number; chunksDeleted: number };
    expect(documentsDeleted).toBe(2);
    expect(chunksDeleted).toBe(outcome.replacementChunks);
    expect(outcome.stage).toBe('COMPLETED');
    expect(outcome.left).toMatchObject({ documents: [], documentCount: 0, chunkCount: 0, chunksCounted: 0 });
    expect(outcome.errors).toEqual([]);
  });
});
