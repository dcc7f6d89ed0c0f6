/**
 * Groups of inputs are bounded by the rows they write (documents and chunks), not only by
 * inputs and bytes (item-groups.ts, SLUICE_INGEST_GROUP_ROWS), and one chunk INSERT holds the
 * chunks of at most 4096 documents (writer.ts). Before, 8 files of 250 000 one-character
 * records were one transaction of 2 million documents and chunks, in INSERTs of 16 384 rows:
 * minutes in which no input was reported done, and a cancel, which the group lets go first only
 * between statements (job-preemption.ts), failed LOCK_TIMEOUT three times (attacker review).
 * Tested at 2 000 rows a group, the shape of the default's 32 768.
 *
 * The groups are read from the rows themselves: PostgreSQL's xmin (the transaction that wrote
 * a row) and cmin (the statement within it), as grouped-settling.test.ts reads them.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databaseIdOf } from '../support/global-ids.js';
import { createDataset, ingestFiles, settled, tenantWithOwner, type UploadFile } from '../support/ingestion.js';
import { asOwner } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_INGEST_GROUP_ROWS: '2000', SLUICE_REQUEST_LOCK_TIMEOUT_MS: '3000' } });
}, 120_000);
afterAll(() => server?.close());

/** A JSON array of `records` short records, each a document of one chunk. */
const records = (name: string, count: number, text: (index: number) => string = (index) => `w${index}`): UploadFile => ({
  name,
  type: 'application/json',
  content: JSON.stringify(Array.from({ length: count }, (_, index) => ({ text: text(index) }))),
});

async function ingest(files: UploadFile[]) {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestFiles(server, token, dataset.id, files);
  expect(body.errors).toBeUndefined();
  return { token, datasetId: dataset.id, jobId: body.data.ingestDocuments.id as string };
}

/** The dataset's documents and chunks as stored, and its counters against them. */
async function stored(datasetId: string) {
  return asOwner(server, async (client) => {
    const { rows } = await client.query(
      `select (select count(*)::int from documents where dataset_id = $1) as documents,
              (select count(distinct source_key)::int from documents where dataset_id = $1) as keys,
              (select count(*)::int from chunks where dataset_id = $1) as chunks,
              (select count(*)::int from chunks c join documents d on d.id = c.document_id
                where c.dataset_id = $1 and c.xmin::text <> d.xmin::text) as "chunksOutsideTheirDocumentsGroup",
              (select document_count = (select count(*) from documents where dataset_id = d.id)
                      and chunk_count = (select count(*) from chunks where dataset_id = d.id) from datasets d where d.id = $1) as "countersExact"`,
      [databaseIdOf(datasetId)],
    );
    return rows[0];
  });
}

/** Sizes of the groups of the dataset's rows of `table` by `by` (xmin: transactions; xmin and cmin: statements), largest first. */
async function groupSizes(datasetId: string, table: 'documents' | 'chunks', by: string) {
  return asOwner(server, async (client) => {
    const { rows } = await client.query(`select count(*)::int as n from ${table} where dataset_id = $1 group by ${by} order by 1 desc`, [databaseIdOf(datasetId)]);
    return rows.map((row) => row.n as number);
  });
}

it('writes a job of many tiny-document inputs in several transactions, each document once', { timeout: 120_000 }, async () => {
  // Six inputs of 400 one-chunk documents: 800 rows each, two to a group of at most 2 000.
  const files = Array.from({ length: 6 }, (_, index) => records(`part-${index}.json`, 400));
  const { token, datasetId, jobId } = await ingest(files);
  const job = await settled(server, token, jobId, 100_000);
  expect(job.stage).toBe('COMPLETED');
  expect(job.progress).toMatchObject({ documentsTotal: 6, documentsDone: 6, documentsFailed: 0, chunksDone: 2400 });
  expect(await stored(datasetId)).toEqual({ documents: 2400, keys: 2400, chunks: 2400, chunksOutsideTheirDocumentsGroup: 0, countersExact: true });
  // Before: one transaction of all 2 400.
  expect(await groupSizes(datasetId, 'documents', 'xmin::text')).toEqual([800, 800, 800]);
});

it('inserts the chunks of at most 4096 documents a statement', { timeout: 120_000 }, async () => {
  // One input is a group alone, however many rows it writes.
  const { token, datasetId, jobId } = await ingest([records('table.json', 5000)]);
  expect((await settled(server, token, jobId, 100_000)).stage).toBe('COMPLETED');
  expect(await stored(datasetId)).toEqual({ documents: 5000, keys: 5000, chunks: 5000, chunksOutsideTheirDocumentsGroup: 0, countersExact: true });
  // Before: one INSERT of 5 000.
  expect(await groupSizes(datasetId, 'chunks', 'xmin::text, cmin::text')).toEqual([4096, 904]);
});

it('cancels a job of many tiny-document inputs while their chunks are written, within the lock timeout', { timeout: 120_000 }, async () => {
  // 16 inputs of 1 000 documents: before, one group and one chunk INSERT of 16 000 rows,
  // seconds long, which the cancel (3 s lock timeout) waited for and failed LOCK_TIMEOUT.
  const files = Array.from({ length: 16 }, (_, file) => records(`log-${file}.json`, 1000, (index) => `keeper ${file} logged tide ${index} at lock ${index % 97}`));
  const { token, datasetId, jobId } = await ingest(files);
  await pollUntil(
    () =>
      asOwner(server, async (client) =>
        Number((await client.query(`select count(*) as n from pg_stat_activity where datname = current_database() and state = 'active' and query ilike 'insert into chunks%'`)).rows[0].n),
      ),
    (running) => running > 0,
    { timeoutMs: 60_000, intervalMs: 10, failure: () => 'no chunk INSERT ran' },
  );
  const cancelled = await server.graphql('mutation($id: ID!) { cancelIngestion(jobId: $id) { stage } }', { token, variables: { id: jobId } });
  expect(cancelled.body).toEqual({ data: { cancelIngestion: { stage: 'CANCELLED' } } });
  const job = await settled(server, token, jobId, 60_000);
  expect(job.stage).toBe('CANCELLED');
  // What committed before the cancel is whole, and nothing else was written.
  const { body } = await server.graphql('query($id: ID!) { ingestionJob(id: $id) { documents { status documents } } }', { token, variables: { id: jobId } });
  const done = body.data.ingestionJob.documents.filter((input: { status: string }) => input.status === 'DONE');
  expect(body.data.ingestionJob.documents.filter((input: { status: string }) => input.status !== 'DONE').map((input: { status: string }) => input.status)).toEqual(
    Array.from({ length: 16 - done.length }, () => 'CANCELLED'),
  );
  const written = done.length * 1000;
  expect(await stored(datasetId)).toEqual({ documents: written, keys: written, chunks: written, chunksOutsideTheirDocumentsGroup: 0, countersExact: true });
});
