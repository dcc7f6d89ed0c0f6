/**
 * SLUICE_PARSE_MAX_DOCUMENTS: an input may yield so many documents (a CSV's or JSONL's rows).
 * They are held in the worker's heap until written, the serving process's when the worker is
 * inline: two CSVs of 2.4 million one-character rows (4.8 MB each) ingested at once ran it out
 * of memory and it died for every tenant (attacker review). An input over the limit fails
 * alone with PARSE_LIMIT, its siblings are indexed; one at the limit is indexed whole.
 * Tested at a limit of 5 000, the shape of the default's 250 000.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const MAX = 5_000;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_PARSE_MAX_DOCUMENTS: String(MAX) } });
}, 120_000);
afterAll(() => server?.close());

const csv = (name: string, rows: number) => ({ name, type: 'text/csv', content: `t\n${'a\n'.repeat(rows)}` });
const jsonl = (name: string, records: number) => ({ name, type: 'application/x-ndjson', content: `${'{"text":"a"}\n'.repeat(records)}` });

it('fails an input of more documents than the limit alone, with PARSE_LIMIT; one at the limit is indexed', async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestFiles(server, token, dataset.id, [csv('over.csv', MAX + 1), jsonl('over.jsonl', MAX + 1), csv('at.csv', MAX), { name: 'good.md', type: 'text/markdown', content: '# Locks\n\nThe keeper fills the chamber.\n' }]);
  expect(body.errors).toBeUndefined();
  const job = await settled(server, token, body.data.ingestDocuments.id, 120_000);
  const { body: read } = await server.graphql('query($id: ID!) { ingestionJob(id: $id) { stage documents { name status reason error } } }', {
    token,
    variables: { id: job.id },
  });
  const outcome = read.data.ingestionJob;
  expect(outcome.stage).toBe('COMPLETED');
  const limit = `yields more than ${MAX} documents (rows or records); split it, or ingest it whole (csvMode: FILE)`;
  expect(outcome.documents).toEqual([
    { name: 'over.csv', status: 'FAILED', reason: 'PARSE_LIMIT', error: `"over.csv": ${limit}` },
    { name: 'over.jsonl', status: 'FAILED', reason: 'PARSE_LIMIT', error: `"over.jsonl": ${limit}` },
    { name: 'at.csv', status: 'DONE', reason: null, error: null },
    { name: 'good.md', status: 'DONE', reason: null, error: null },
  ]);
  const { body: counted } = await server.graphql('query($id: ID!) { node(id: $id) { ... on Dataset { documentCount } } }', { token, variables: { id: dataset.id } });
  expect(counted.data.node.documentCount).toBe(MAX + 1);
});
