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
import { createDataset, ingestInline, settled, tenantWithOwner, type InlineDocument } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const CHUNKING = { size: 200, overlap: 40 };
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

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
  return uuidOf(dataset.id);
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
    const stored = await withClient(server.database.ownerUrl, async (client) =>
      (
        await client.query<{ source_key: string; contents: string[] }>(
          `select d.source_key, array_agg(c.content order by c.ordinal) as contents
             from documents d join chunks c on c.document_id = d.id where d.dataset_id = $1 group by d.source_key order by d.source_key`,
          [datasetId],
        )
      ).rows,
    );
    const contents = (value: string) => chunkText(value, CHUNKING).map((chunk) => chunk.content);
    expect(stored).toEqual([
      { source_key: 'first', contents: contents(text(3)) },
      { source_key: 'second', contents: contents(text(2)) },
      { source_key: 'third', contents: contents(text(4)) },
    ]);
    expect(await drift(datasetId)).toEqual({ terms: [], countersExact: true });
  });
});
