/**
 * A job's inputs are settled in groups (item-groups.ts, issue 19: ingestion cost): several inputs
 * in one transaction, their chunks in one INSERT, so the BM25 statistics trigger upserts the
 * group's distinct lexemes once. Checked on the rows themselves: PostgreSQL's xmin (the
 * transaction that wrote a row) and cmin (the statement within it). The statistics stay exact
 * (a recount from the chunks), and an input that replaces a document written earlier in the
 * same group leaves exactly the new document's chunks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { chunkText } from '../../src/domains/ingestion/chunker.js';
import { createDataset, ingestInline, jobOf, settled, tenantWithOwner, type InlineDocument } from '../support/ingestion.js';
import { untilLockWaiters } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const CHUNKING = { size: 200, overlap: 40 };

function text(seed: number): string {
  const words = ['lock', 'keeper', 'gate', 'paddle', 'barge', 'weir', 'tide', 'mooring', 'culvert', 'towpath', `rare${seed}`];
  return Array.from({ length: 12 }, (_, sentence) => Array.from({ length: 9 }, (_, w) => words[(seed * 7 + sentence * 3 + w * 5) % words.length]).join(' ') + '.').join(' ');
}

async function ingestJob(documents: InlineDocument[]): Promise<string> {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestInline(server, token, dataset.id, documents, { chunkSize: CHUNKING.size, chunkOverlap: CHUNKING.overlap });
  expect(body.errors).toBeUndefined();
  const job = await settled(server, token, body.data.ingestDocuments.id, 60_000);
  expect(job.stage).toBe('COMPLETED');
  expect(job.progress.documentsDone).toBe(documents.length);
  return databaseIdOf(dataset.id);
}

/** The dataset's terms whose stored statistics differ from a recount over its chunks, and its counters against the rows. */
async function drift(datasetId: string) {
  return withClient(server.database.ownerUrl, async (client) => {
    const terms = await client.query(
      `with recount as (select t.lexeme as term, count(*)::int as chunks from chunks c cross join lateral unnest(c.search) t where c.dataset_id = $1 group by 1)
       select coalesce(r.term, s.term) as term, r.chunks, s.chunk_count
         from recount r full join (select term, chunk_count from dataset_terms where dataset_id = $1) s on s.term = r.term
        where r.chunks is distinct from s.chunk_count`,
      [datasetId],
    );
    const counters = await client.query(
      `select d.document_count = (select count(*) from documents where dataset_id = d.id)
              and d.chunk_count = (select count(*) from chunks where dataset_id = d.id)
              and d.search_chunk_count = (select count(*) from chunks where dataset_id = d.id) as exact
         from datasets d where d.id = $1`,
      [datasetId],
    );
    return { terms: terms.rows, countersExact: counters.rows[0].exact as boolean };
  });
}

/** The chunks' contents of the dataset's documents with these source keys, in key order. */
async function storedChunks(datasetId: string, keys: string[]) {
  return withClient(server.database.ownerUrl, async (client) =>
    (
      await client.query<{ source_key: string; contents: string[] }>(
        `select d.source_key, array_agg(c.content order by c.ordinal) as contents
           from documents d join chunks c on c.document_id = d.id where d.dataset_id = $1 and d.source_key = any($2) group by 1 order by 1`,
        [datasetId, keys],
      )
    ).rows,
  );
}

const contents = (value: string) => chunkText(value, CHUNKING).map((chunk) => chunk.content);

describe('grouped settling of a job’s inputs', { timeout: 120_000 }, () => {
  it('writes a group’s chunks in one transaction and one INSERT, and upserts each term once', async () => {
    const documents = Array.from({ length: 6 }, (_, index) => ({ title: `note-${index}`, text: text(index) }));
    const datasetId = await ingestJob(documents);
    const rows = await withClient(server.database.ownerUrl, async (client) => {
      const chunks = await client.query(
        `select count(*)::int as chunks, count(distinct document_id)::int as documents,
                count(distinct xmin::text)::int as transactions, count(distinct cmin::text)::int as statements
           from chunks where dataset_id = $1`,
        [datasetId],
      );
      const terms = await client.query(
        `select count(*)::int as terms, count(distinct xmin::text)::int as transactions, count(distinct cmin::text)::int as statements
           from dataset_terms where dataset_id = $1`,
        [datasetId],
      );
      return { chunks: chunks.rows[0], terms: terms.rows[0] };
    });
    const expected = documents.reduce((sum, document) => sum + chunkText(document.text, CHUNKING).length, 0);
    expect(rows.chunks).toEqual({ chunks: expected, documents: 6, transactions: 1, statements: 1 });
    // Each input has its own rare word and shares the rest: one upsert inserted every term once.
    expect(rows.terms.terms).toBeGreaterThan(6);
    expect(rows.terms).toMatchObject({ transactions: 1, statements: 1 });
    expect(await drift(datasetId)).toEqual({ terms: [], countersExact: true });
  });

  it('leaves exactly the new chunks when an input replaces a document written earlier in its group', async () => {
    const documents = [
      { title: 'first', text: text(1) },
      { title: 'second', text: text(2) },
      { title: 'first', text: text(3) },
      { title: 'third', text: text(4) },
    ];
    const datasetId = await ingestJob(documents);
    expect(await storedChunks(datasetId, ['first', 'second', 'third'])).toEqual([
      { source_key: 'first', contents: contents(text(3)) },
      { source_key: 'second', contents: contents(text(2)) },
      { source_key: 'third', contents: contents(text(4)) },
    ]);
    expect(await drift(datasetId)).toEqual({ terms: [], countersExact: true });
  });

  // item-groups.ts takes up to 32 inputs a group: 70 inputs make three groups, settled two at once.
  const many = (seed: number) => Array.from({ length: 70 }, (_, index) => ({ title: `note-${index}`, text: text(seed + index) }));

  it('writes the next group’s rows while a group’s statistics wait, and keeps every count exact', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const datasetId = databaseIdOf(dataset.id);
    // The dataset's row held from outside: every group's statistics wait for it, its rows do not.
    await withClient(server.database.ownerUrl, async (holder) => {
      await holder.query('begin');
      await holder.query('select 1 from datasets where id = $1 for no key update', [datasetId]);
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const { body } = await ingestInline(server, token, dataset.id, many(0), { chunkSize: CHUNKING.size, chunkOverlap: CHUNKING.overlap });
      expect(body.errors).toBeUndefined();
      // Two of the job's chunk INSERTs waiting for it at once: the second group's began while the
      // first's was open.
      await untilLockWaiters(server, { blockedBy: holderPid, startingWith: 'insert into chunks' }, 2, "chunk INSERTs for the dataset's row");
      await holder.query('commit');
      const job = await settled(server, token, body.data.ingestDocuments.id, 60_000);
      expect(job).toMatchObject({ stage: 'COMPLETED', attempts: 1 });
      const detail = await jobOf(server, token, job.id);
      const chunks = many(0).reduce((sum, document) => sum + chunkText(document.text, CHUNKING).length, 0);
      expect(detail.progress).toMatchObject({ documentsDone: 70, chunksDone: chunks, bytesProcessed: detail.progress.bytesTotal });
      expect(detail.dataset).toMatchObject({ documentCount: 70, chunkCount: chunks });
    });
    const rows = await withClient(server.database.ownerUrl, async (client) =>
      (
        await client.query(
          `select (select count(distinct xmin::text)::int from chunks where dataset_id = $1) as groups,
                  (select count(distinct i.sequence)::int from ingestion_items i where i.job_id = j.id) as sequences,
                  (select max(i.sequence)::int from ingestion_items i where i.job_id = j.id) <= j.sequence as below_job
             from ingestion_jobs j where j.dataset_id = $1`,
          [datasetId],
        )
      ).rows[0],
    );
    // Three groups, each input's outcome with a sequence of its own, counted from the row as committed.
    expect(rows).toEqual({ groups: 3, sequences: 70, below_job: true });
    expect(await drift(datasetId)).toEqual({ terms: [], countersExact: true });
  });

  it('starts the next group when either group in flight settles, not only the older one', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const datasetId = databaseIdOf(dataset.id);
    const options = { chunkSize: CHUNKING.size, chunkOverlap: CHUNKING.overlap };
    const first = await ingestInline(server, token, dataset.id, [{ title: 'note-0', text: text(0) }], options);
    expect((await settled(server, token, first.body.data.ingestDocuments.id, 60_000)).stage).toBe('COMPLETED');
    // note-0 again, first of the job's 70 inputs: the first group replaces it and waits for its
    // document's row, held here; the second group (new keys only) settles meanwhile, and the
    // third must then be written beside the first, still waiting.
    const again = many(100);
    again[0] = { title: 'note-0', text: text(999) };
    await withClient(server.database.ownerUrl, async (holder) => {
      await holder.query('begin');
      await holder.query(`select 1 from documents where dataset_id = $1 and source_key = 'note-0' for update`, [datasetId]);
      const { body } = await ingestInline(server, token, dataset.id, again, options);
      expect(body.errors).toBeUndefined();
      const jobId = databaseIdOf(body.data.ingestDocuments.id);
      const statuses = () =>
        withClient(server.database.ownerUrl, async (watcher) =>
          (
            await watcher.query(
              `select (ordinal >= 32) as later, status, count(*)::int as n from ingestion_items where job_id = $1 group by 1, 2 order by 1, 2`,
              [jobId],
            )
          ).rows,
        );
      // Inputs 32 to 69 (the second and third groups) DONE, the first group's 32 still PARSED.
      await pollUntil(statuses, (rows) => JSON.stringify(rows) === JSON.stringify([{ later: false, status: 'PARSED', n: 32 }, { later: true, status: 'DONE', n: 38 }]), {
        timeoutMs: 60_000,
        intervalMs: 50,
        failure: (rows) => `the later groups did not settle while the first waited: ${JSON.stringify(rows)}`,
      });
      await holder.query('commit');
      const job = await settled(server, token, body.data.ingestDocuments.id, 60_000);
      expect(job).toMatchObject({ stage: 'COMPLETED', attempts: 1 });
    });
    expect(await storedChunks(datasetId, ['note-0', 'note-1'])).toEqual([
      { source_key: 'note-0', contents: contents(text(999)) },
      { source_key: 'note-1', contents: contents(text(101)) },
    ]);
    expect(await drift(datasetId)).toEqual({ terms: [], countersExact: true });
  });

  it('replaces documents in groups settled at once, and a key in two groups ends with the later input', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const datasetId = databaseIdOf(dataset.id);
    const options = { chunkSize: CHUNKING.size, chunkOverlap: CHUNKING.overlap };
    const first = await ingestInline(server, token, dataset.id, many(0), options);
    expect((await settled(server, token, first.body.data.ingestDocuments.id, 60_000)).stage).toBe('COMPLETED');
    // Every document again with new text (each group deletes chunks, then inserts), and input 5's
    // key again as input 60 (the first group and the second hold it: the second waits).
    const again = many(100);
    again[60] = { title: 'note-5', text: text(999) };
    const second = await ingestInline(server, token, dataset.id, again, options);
    const job = await settled(server, token, second.body.data.ingestDocuments.id, 60_000);
    // A deadlock between the groups would have failed an attempt.
    expect(job).toMatchObject({ stage: 'COMPLETED', attempts: 1 });
    expect(await storedChunks(datasetId, ['note-5', 'note-6'])).toEqual([
      { source_key: 'note-5', contents: contents(text(999)) },
      { source_key: 'note-6', contents: contents(text(106)) },
    ]);
    expect(await drift(datasetId)).toEqual({ terms: [], countersExact: true });
  });
});
