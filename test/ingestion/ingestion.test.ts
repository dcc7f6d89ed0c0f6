/**
 * ingestDocuments over HTTP (multipart uploads and inline documents) with the in-process
 * worker: formats, limits, re-ingestion, replacement, a document failing alone, search.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { codeOf } from '../support/identity.js';
import { createDataset, ingestFiles, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: { SLUICE_INGEST_MAX_FILE_BYTES: '20000', SLUICE_INGEST_MAX_FILES: '5', SLUICE_INGEST_MAX_REQUEST_BYTES: '50000' },
  });
});
afterAll(() => server?.close());


function owner<T>(query: string, params: unknown[]): Promise<T[]> {
  return withClient(server.database.ownerUrl, async (client) => (await client.query(query, params)).rows as T[]);
}

const chunkTexts = (datasetId: string) =>
  owner<{ title: string; content: string }>(
    'select d.title, c.content from chunks c join documents d on d.id = c.document_id where c.dataset_id = $1 order by d.source_key, c.ordinal',
    [databaseIdOf(datasetId)],
  );

describe('uploads in every format', () => {
  it('parses each file and indexes its chunks', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body, status } = await ingestFiles(server, token, dataset.id, [
      { name: 'notes.txt', type: 'text/plain', content: 'Plain words about harbours.' },
      { name: 'guide.md', content: '# Sluice gates\n\nA **gate** holds water.' },
      { name: 'page.html', type: 'text/html', content: '<title>Locks</title><script>bad()</script><p>Canal locks lift boats.</p>' },
      { name: 'rows.csv', type: 'text/csv', content: 'name,about\nweir,a low dam\nlevee,an embankment\n' },
      { name: 'lines.jsonl', content: '{"text":"First record"}\n{"text":"Second record"}\n' },
    ]);
    expect(status).toBe(200);
    expect(body.data.ingestDocuments.progress).toMatchObject({ stage: 'QUEUED', documentsTotal: 5, documentsDone: 0 });
    const job = await settled(server, token, body.data.ingestDocuments.id);
    expect(job.stage).toBe('COMPLETED');
    expect(job.documents.map((d: any) => [d.name, d.status, d.outcome, d.documents])).toEqual([
      ['notes.txt', 'DONE', 'INDEXED', 1],
      ['guide.md', 'DONE', 'INDEXED', 1],
      ['page.html', 'DONE', 'INDEXED', 1],
      ['rows.csv', 'DONE', 'INDEXED', 2],
      ['lines.jsonl', 'DONE', 'INDEXED', 2],
    ]);
    expect(job.dataset).toMatchObject({ documentCount: 7, chunkCount: 7 });
    expect((await chunkTexts(dataset.id)).map((row) => [row.title, row.content])).toEqual([
      ['Sluice gates', 'Sluice gates\n\nA gate holds water.'],
      ['lines.jsonl #1', 'First record'],
      ['lines.jsonl #2', 'Second record'],
      ['notes.txt', 'Plain words about harbours.'],
      ['Locks', 'Canal locks lift boats.'],
      ['rows.csv row 1', 'name: weir\nabout: a low dam'],
      ['rows.csv row 2', 'name: levee\nabout: an embankment'],
    ]);
    // The generated tsvector and its GIN index answer full-text queries (stemmed: "lift" ~ "lifting").
    const [hit] = await owner<{ content: string }>(
      `select content from chunks where dataset_id = $1 and search @@ websearch_to_tsquery('english', 'lifting boat')`,
      [databaseIdOf(dataset.id)],
    );
    expect(hit?.content).toBe('Canal locks lift boats.');
  });
});

describe('limits and encodings', () => {
  it('refuses the whole call, naming each bad input, and stores nothing', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body } = await ingestFiles(server, token, dataset.id, [
      { name: 'good.txt', content: 'fine' },
      { name: 'latin1.txt', type: 'text/plain', content: Uint8Array.from([0x63, 0x61, 0x66, 0xe9]) },
      { name: 'big.txt', content: 'x'.repeat(20_001) },
      { name: 'doc.pdf', type: 'application/pdf', content: '%PDF-1.4' },
    ]);
    expect(codeOf(body)).toBe('BAD_USER_INPUT');
    expect(body.errors[0].extensions.problems.map((p: any) => [p.name, p.reason])).toEqual([
      ['latin1.txt', 'INVALID_ENCODING'],
      ['big.txt', 'FILE_TOO_LARGE'],
      ['doc.pdf', 'UNSUPPORTED_FORMAT'],
    ]);
    const rows = await owner<{ jobs: number }>('select count(*)::int as jobs from ingestion_jobs where dataset_id = $1', [databaseIdOf(dataset.id)]);
    expect(rows).toEqual([{ jobs: 0 }]);
  });

  it('refuses too many inputs, too many bytes in all, no input, and a foreign dataset', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const many = Array.from({ length: 6 }, (_, i) => ({ title: `d${i}`, text: 'x' }));
    const tooMany = await ingestInline(server, token, dataset.id, many);
    expect(tooMany.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'TOO_MANY_FILES', max: 5 });
    const heavy = Array.from({ length: 3 }, (_, i) => ({ name: `f${i}.txt`, content: 'y'.repeat(19_000) }));
    const tooBig = await ingestFiles(server, token, dataset.id, heavy);
    expect(tooBig.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'REQUEST_TOO_LARGE' });
    expect((await ingestInline(server, token, dataset.id, [])).body.errors[0].extensions.reason).toBe('NO_INPUT');
    const other = await tenantWithOwner(server);
    const foreign = await ingestInline(server, other.token, dataset.id, [{ title: 'x', text: 'y' }]);
    expect(codeOf(foreign.body)).toBe('NOT_FOUND');
  });

  it('answers 413 before reading an upload larger than the request limit', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const huge = { name: 'huge.txt', content: 'z'.repeat(50_000 + 2 * 1024 * 1024) };
    const { status, body } = await ingestFiles(server, token, dataset.id, [huge]);
    expect(status).toBe(413);
    expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('re-ingestion', () => {
  it('skips unchanged content, replaces changed content, and fails a bad document alone', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const long = (word: string) => `${word} `.repeat(600).trim();
    const first = await ingestInline(server, token, dataset.id, [
      { title: 'a', text: long('alpha') },
      { title: 'b', text: long('beta') },
    ], { chunkSize: 500, chunkOverlap: 0 });
    const firstJob = await settled(server, token, first.body.data.ingestDocuments.id);
    // 3,599 and 2,999 characters in chunks of at most 500, cut between words, the short rest
    // (113 and 24 characters) joining the chunk before it: 7 + 6.
    expect(firstJob.dataset).toMatchObject({ documentCount: 2, chunkCount: 13 });

    const second = await ingestInline(server, token, dataset.id, [
      { title: 'a', text: long('alpha') },
      { title: 'b', text: 'beta, shorter now' },
      { title: 'c.json', text: '{"no": "text field"}', mimeType: 'application/json' },
    ], { chunkSize: 500, chunkOverlap: 0 });
    const job = await settled(server, token, second.body.data.ingestDocuments.id);
    expect(job.stage).toBe('COMPLETED');
    expect(job.progress).toMatchObject({ documentsTotal: 3, documentsDone: 3, documentsFailed: 1, chunksDone: 1, percent: 100 });
    expect(job.documents.map((d: any) => [d.name, d.status, d.outcome, d.chunks])).toEqual([
      ['a', 'DONE', 'UNCHANGED', 0],
      ['b', 'DONE', 'REPLACED', 1],
      ['c.json', 'FAILED', null, 0],
    ]);
    expect(job.documents[2].error).toBe('"c.json": the document has no string field "text"');
    expect(job.dataset).toMatchObject({ documentCount: 2, chunkCount: 8 });
    const chunks = await chunkTexts(dataset.id);
    expect(chunks.filter((row) => row.title === 'b').map((row) => row.content)).toEqual(['beta, shorter now']);
    expect(chunks).toHaveLength(8);
  });

  it('a short rest at the end of a document joins the chunk before it, by default', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    // Lower-case prose without sentence breaks, as in the Cranfield abstracts: cut between words.
    const words = (count: number) => Array.from({ length: count }, (_, i) => `flow${i % 10}`).join(' ');
    const { body } = await ingestInline(server, token, dataset.id, [
      { title: 'fits', text: words(200) }, // 1,199 characters: one chunk of the default 1,000 and a rest of under 500
      { title: 'splits', text: words(300) }, // 1,799 characters: a rest of 500 or more stays a chunk of its own
    ]);
    const job = await settled(server, token, body.data.ingestDocuments.id);
    expect(job.stage).toBe('COMPLETED');
    const chunks = await chunkTexts(dataset.id);
    expect(chunks.filter((row) => row.title === 'fits').map((row) => row.content)).toEqual([words(200)]);
    expect(chunks.filter((row) => row.title === 'splits').map((row) => row.content.length)).toEqual([995, 803]);
  });

  it('fails a job whose every document fails, with a reason', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, [{ title: 'x.jsonl', text: '{"text": "ok"}\nnot json', mimeType: 'application/jsonl' }]);
    const job = await settled(server, token, body.data.ingestDocuments.id);
    expect(job.stage).toBe('FAILED');
    expect(job.progress.error).toBe('Every input failed; see the document outcomes');
    expect(job.documents[0].error).toContain('line 2 is not valid JSON');
  });
});
