/**
 * Many tiny documents (attacker review, 2026-12-07): one ingestDocuments call of 8 files of
 * 250 000 one-character JSON records (1 MB each) took the serving process from 390 MB to
 * 2.4 GB while PARSING, and 16 ran it out of memory, in the main thread decoding one message
 * from a parser thread. What PARSING keeps for CHUNKING was budgeted by text length (16 M
 * characters) while such a document costs about 320 bytes of heap, so every record was kept;
 * and a JSON or JSONL input's records left the thread as one message. Now the budget counts an
 * estimate of what documents cost, JSON and JSONL records come in batches as CSV rows do, and a
 * job's documents are bounded (documents-per-job.test.ts).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { DocumentParser } from '../../src/domains/ingestion/document-parser.js';
import { resolveIngestionOptions } from '../../src/domains/ingestion/options.js';
import { PARSED_DOCUMENTS_BUDGET, ParsedDocuments } from '../../src/domains/ingestion/parsed-documents.js';
import { DEFAULT_PARSE_LIMITS } from '../../src/domains/ingestion/parsers/limits.js';
import { DOCUMENT_BATCH_SIZE, parseDocumentBatches, parseDocuments, type ParsedDocument } from '../../src/domains/ingestion/parsers/parse.js';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const options = resolveIngestionOptions({});
const tinyJson = (records: number) => JSON.stringify(Array.from({ length: records }, () => 'a'));

describe('JSON and JSONL records leave the parser thread in batches, as CSV rows do', () => {
  it.each([
    ['json', JSON.stringify(Array.from({ length: 10_000 }, (_, index) => ({ text: `record ${index + 1}`, id: index + 1 })))],
    ['jsonl', Array.from({ length: 10_000 }, (_, index) => JSON.stringify({ text: `record ${index + 1}` })).join('\n')],
  ] as const)('%s: 10 000 records come in batches of at most DOCUMENT_BATCH_SIZE, the documents a whole parse gives', (format, content) => {
    const input = { name: `records.${format}`, format, content };
    const batches: { documents: ParsedDocument[]; last: boolean; done: number }[] = [];
    parseDocumentBatches(input, options, DEFAULT_PARSE_LIMITS, (documents, last, done) => batches.push({ documents, last, done }));
    expect(batches.map((batch) => batch.documents.length)).toEqual([DOCUMENT_BATCH_SIZE, DOCUMENT_BATCH_SIZE, 10_000 - 2 * DOCUMENT_BATCH_SIZE]);
    expect(batches.map((batch) => batch.last)).toEqual([false, false, true]);
    expect(batches.map((batch) => batch.done)).toEqual([DOCUMENT_BATCH_SIZE / 10_000, (2 * DOCUMENT_BATCH_SIZE) / 10_000, 1]);
    expect(batches.flatMap((batch) => batch.documents)).toEqual(parseDocuments(input, options, DEFAULT_PARSE_LIMITS));
  });
});

describe('what PARSING keeps for CHUNKING is budgeted by what its documents cost, not their text', () => {
  it('100 000 one-character records (100 000 characters) are not kept; 1 000 are', async () => {
    const parser = new DocumentParser(server.config.worker.parsing);
    try {
      const many = await parser.parse({ name: 'many.json', format: 'json', content: tinyJson(100_000) }, options);
      const few = await parser.parse({ name: 'few.json', format: 'json', content: tinyJson(1_000) }, options);
      if (!('documents' in many) || !('documents' in few)) throw new Error('a parse failed');
      expect(many.documents).toHaveLength(100_000);
      expect(many.documents.reduce((sum, document) => sum + document.text.length, 0)).toBe(100_000);
      const kept = new ParsedDocuments(PARSED_DOCUMENTS_BUDGET);
      kept.keep('many', many.documents, many.heapBytes);
      kept.keep('few', few.documents, few.heapBytes);
      // Not kept: CHUNKING parses it again, from the input.
      expect(kept.take('many')?.length).toBeUndefined();
      expect(kept.take('few')).toBe(few.documents);
      // Each costs its object, key, title, hash and metadata beside its one character.
      expect(many.heapBytes).toBeGreaterThan(100_000 * 256);
    } finally {
      await parser.close();
    }
  }, 60_000);
});

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/** The dataset's documents' texts and keys, in key order, as digests (read as the owner, past row-level security). */
async function storedDocuments(datasetId: string): Promise<{ documents: number; chunks: number; texts: string; keys: string }> {
  return withClient(server.database.ownerUrl, async (client) => {
    const { rows } = await client.query(
      `select count(*)::int as documents, (select count(*)::int from chunks where dataset_id = $1) as chunks,
              md5(string_agg(d.source_key || '=' || c.content, E'\\x1f' order by d.source_key collate "C")) as texts,
              md5(string_agg(d.source_key, E'\\x1f' order by d.source_key collate "C")) as keys
         from documents d join chunks c on c.document_id = d.id where d.dataset_id = $1`,
      [databaseIdOf(datasetId)],
    );
    return rows[0];
  });
}

it('a job of 25 000 records with short texts and long metadata (too many to keep, parsed again in CHUNKING) indexes every one', async () => {
  const RECORDS = 25_000;
  const note = 'Gauge readings at the upper and lower gates, copied from the keeper\'s log. '.repeat(8);
  const records = Array.from({ length: RECORDS }, (_, index) => ({ text: `reading ${index + 1}`, id: `r${index + 1}`, note }));
  const inputs = [
    { name: 'readings.json', type: 'application/json', content: JSON.stringify(records) },
    // Small enough to be kept.
    { name: 'notes.jsonl', type: 'application/x-ndjson', content: Array.from({ length: 500 }, (_, index) => JSON.stringify({ text: `note ${index + 1}`, id: `n${index + 1}` })).join('\n') },
  ];
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestFiles(server, token, dataset.id, inputs, { jsonIdField: 'id' });
  expect(body.errors).toBeUndefined();
  const job = await settled(server, token, body.data.ingestDocuments.id, 150_000);
  expect(job.stage).toBe('COMPLETED');
  expect(job.documents).toEqual([
    expect.objectContaining({ name: 'readings.json', status: 'DONE', outcome: 'INDEXED', documents: RECORDS, chunks: RECORDS, error: null }),
    expect.objectContaining({ name: 'notes.jsonl', status: 'DONE', outcome: 'INDEXED', documents: 500, chunks: 500, error: null }),
  ]);
  const expected = [
    ...records.map((record) => ({ key: `readings.json#${record.id}`, text: record.text })),
    ...Array.from({ length: 500 }, (_, index) => ({ key: `notes.jsonl#n${index + 1}`, text: `note ${index + 1}` })),
    // In code point order, as `collate "C"` sorts them.
  ].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  expect(await storedDocuments(dataset.id)).toEqual({
    documents: RECORDS + 500,
    chunks: RECORDS + 500,
    texts: md5(expected.map(({ key, text }) => `${key}=${text}`).join('\x1f')),
    keys: md5(expected.map(({ key }) => key).join('\x1f')),
  });
}, 180_000);
