/**
 * SLUICE_PARSE_MAX_JOB_DOCUMENTS: the inputs of one job may yield so many documents in all.
 * SLUICE_PARSE_MAX_DOCUMENTS bounds each input alone, and a job holds a group of up to 32
 * inputs' documents at once: one ingestDocuments call of 32 files of 250 000 one-character
 * JSON records (1 MB each, within every upload limit) held 2 to 2.7 GB of the serving process
 * and stalled other tenants' requests for up to 27 s; 16 ran it out of memory under a 1.5 GB
 * heap (attacker review, 2026-12-07). An input that would take its job past the bound fails
 * alone with PARSE_LIMIT, in input order; the job's other inputs are indexed, and later ones
 * that still fit too. Tested at 5 000 a job (3 000 an input), the shape of the defaults.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { codeOf } from '../support/identity.js';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PER_INPUT = 3_000;
const PER_JOB = 5_000;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_PARSE_MAX_DOCUMENTS: String(PER_INPUT), SLUICE_PARSE_MAX_JOB_DOCUMENTS: String(PER_JOB) } });
}, 120_000);
afterAll(() => server?.close());

const json = (name: string, records: number) => ({ name, type: 'application/json', content: JSON.stringify(Array.from({ length: records }, (_, index) => `${name} ${index + 1}`)) });
const jsonl = (name: string, records: number) => ({ name, type: 'application/x-ndjson', content: Array.from({ length: records }, (_, index) => JSON.stringify({ text: `${name} ${index + 1}` })).join('\n') });
const csv = (name: string, rows: number) => ({ name, type: 'text/csv', content: `t\n${Array.from({ length: rows }, (_, index) => `${name} ${index + 1}`).join('\n')}\n` });
const markdown = (name: string) => ({ name, type: 'text/markdown', content: `# ${name}\n\nThe keeper fills the chamber.\n` });

const overJob = (name: string) => `"${name}": would take the job past ${PER_JOB} documents (rows or records, its inputs' in all); ingest it in another job`;

async function outcomesOf(token: string, jobId: string) {
  const { body } = await server.graphql('query($id: ID!) { ingestionJob(id: $id) { stage status documents { name status reason error documents } } }', { token, variables: { id: jobId } });
  return body.data.ingestionJob;
}

async function documentCountOf(token: string, datasetId: string): Promise<number> {
  const { body } = await server.graphql('query($id: ID!) { node(id: $id) { ... on Dataset { documentCount } } }', { token, variables: { id: datasetId } });
  return body.data.node.documentCount;
}

it("fails the inputs that would take a job past its documents with PARSE_LIMIT, in input order; the others are indexed, and retrying counts the job's settled inputs", async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestFiles(server, token, dataset.id, [
    json('a.json', 2_000), // 2 000
    jsonl('b.jsonl', 2_000), // 4 000
    csv('c.csv', 1_500), // 5 500: over
    json('d.json', 1_000), // 5 000: at the bound
    markdown('e.md'), // 5 001: over, though left unparsed by PARSING (one document, a new name)
    json('f.json', 1), // 5 001: over
  ]);
  expect(body.errors).toBeUndefined();
  const jobId = body.data.ingestDocuments.id;
  expect((await settled(server, token, jobId, 120_000)).stage).toBe('COMPLETED');
  const expected = [
    { name: 'a.json', status: 'DONE', reason: null, error: null, documents: 2_000 },
    { name: 'b.jsonl', status: 'DONE', reason: null, error: null, documents: 2_000 },
    { name: 'c.csv', status: 'FAILED', reason: 'PARSE_LIMIT', error: overJob('c.csv'), documents: 0 },
    { name: 'd.json', status: 'DONE', reason: null, error: null, documents: 1_000 },
    { name: 'e.md', status: 'FAILED', reason: 'PARSE_LIMIT', error: overJob('e.md'), documents: 0 },
    { name: 'f.json', status: 'FAILED', reason: 'PARSE_LIMIT', error: overJob('f.json'), documents: 0 },
  ];
  expect(await outcomesOf(token, jobId)).toEqual({ stage: 'COMPLETED', status: 'COMPLETED_WITH_FAILURES', documents: expected });
  expect(await documentCountOf(token, dataset.id)).toBe(PER_JOB);

  // Run again, the failed inputs meet the 5 000 documents the job's settled inputs yield.
  const retried = await server.graphql('mutation($id: ID!) { retryIngestion(jobId: $id) { stage } }', { token, variables: { id: jobId } });
  expect(retried.body.errors).toBeUndefined();
  expect((await settled(server, token, jobId, 120_000)).stage).toBe('COMPLETED');
  expect(await outcomesOf(token, jobId)).toEqual({ stage: 'COMPLETED', status: 'COMPLETED_WITH_FAILURES', documents: expected });

  // The bound is a job's: the same inputs in a job of their own are indexed.
  const next = await ingestFiles(server, token, dataset.id, [csv('c.csv', 1_500), markdown('e.md'), json('f.json', 1)]);
  const nextId = next.body.data.ingestDocuments.id;
  expect((await settled(server, token, nextId, 120_000)).stage).toBe('COMPLETED');
  expect((await outcomesOf(token, nextId)).documents.map((document: { status: string }) => document.status)).toEqual(['DONE', 'DONE', 'DONE']);
  expect(await documentCountOf(token, dataset.id)).toBe(PER_JOB + 1_502);
  expect(codeOf((await server.graphql('mutation($id: ID!) { retryIngestion(jobId: $id) { stage } }', { token, variables: { id: nextId } })).body)).toBe('CONFLICT');
}, 180_000);

it('an input over its own bound still fails with the input\'s message when the job has room for it', async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestFiles(server, token, dataset.id, [json('big.json', PER_INPUT + 1), markdown('good.md')]);
  const jobId = body.data.ingestDocuments.id;
  expect((await settled(server, token, jobId, 120_000)).stage).toBe('COMPLETED');
  expect((await outcomesOf(token, jobId)).documents).toEqual([
    { name: 'big.json', status: 'FAILED', reason: 'PARSE_LIMIT', error: `"big.json": yields more than ${PER_INPUT} documents (rows or records); split it, or ingest it whole (csvMode: FILE)`, documents: 0 },
    { name: 'good.md', status: 'DONE', reason: null, error: null, documents: 1 },
  ]);
});
