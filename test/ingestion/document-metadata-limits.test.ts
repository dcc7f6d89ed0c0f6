/**
 * A JSON/JSONL record's other fields (and a CSV row's other columns) become its document's
 * metadata, bounded at ingestion (src/domains/ingestion/parsers/limits.ts): at most 1000
 * fields and 64 KiB serialised per document. An input over it fails alone with PARSE_LIMIT,
 * naming the record; its siblings are indexed. A record of 500 000 fields (8 MB) used to be
 * stored whole, and every read of the dataset's documents then spent seconds of the serving
 * thread parsing and serialising it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createDataset, ingestFiles, serverWithOwner, settled, type Tenant } from '../support/ingestion.js';
import type { TestServer } from '../support/server.js';

const context = serverWithOwner();
let server: TestServer;
let acme: Tenant;
beforeEach(() => {
  ({ server, owner: acme } = context);
});

const JOB = 'query($id: ID!) { ingestionJob(id: $id) { stage documents { name status reason error } } }';
const fields = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, index]));

async function ingestedDocuments(files: { name: string; type: string; content: string }[]) {
  const dataset = await createDataset(server, acme.token);
  const { body } = await ingestFiles(server, acme.token, dataset.id, files);
  expect(body.errors).toBeUndefined();
  await settled(server, acme.token, body.data.ingestDocuments.id, 60_000);
  const job = await server.graphql(JOB, { token: acme.token, variables: { id: body.data.ingestDocuments.id } });
  const read = await server.graphql('query($id: ID!) { node(id: $id) { ... on Dataset { documents(first: 20) { edges { node { title metadata } } } } } }', {
    token: acme.token,
    variables: { id: dataset.id },
  });
  const byName = Object.fromEntries(job.body.data.ingestionJob.documents.map((document: any) => [document.name, document]));
  return { byName, stored: read.body.data.node.documents.edges.map((edge: any) => edge.node) };
}

// An 8 MB upload parsed in a thread and its job awaited for up to 60 s: longer than the default
// 30 s test limit allows on a busy machine (it ran out of it at load 14).
describe('document metadata', () => {
  it('a JSON record with 500 000 extra fields fails alone with PARSE_LIMIT naming the bound; its sibling is stored, and reads stay small', async () => {
    const { byName, stored } = await ingestedDocuments([
      { name: 'wide.json', type: 'application/json', content: JSON.stringify({ text: 'x', ...fields(500_000) }) },
      { name: 'fine.json', type: 'application/json', content: JSON.stringify({ text: 'The lamp is wound at dusk.', title: 'Lamp', shelf: 'B4' }) },
    ]);
    expect(byName['wide.json']).toMatchObject({ status: 'FAILED', reason: 'PARSE_LIMIT' });
    expect(byName['wide.json'].error).toContain('the document has 500000 metadata fields, more than 1000');
    expect(byName['fine.json']).toMatchObject({ status: 'DONE' });
    expect(stored).toEqual([{ title: 'Lamp', metadata: { title: 'Lamp', shelf: 'B4' } }]);
   }, 120_000);

  it('a JSONL record with 64 KiB of metadata in one field fails alone, naming the record', async () => {
    const lines = [JSON.stringify({ text: 'first', note: 'short' }), JSON.stringify({ text: 'second', note: 'x'.repeat(70_000) })].join('\n');
    const { byName } = await ingestedDocuments([{ name: 'notes.jsonl', type: 'application/x-ndjson', content: lines }]);
    expect(byName['notes.jsonl']).toMatchObject({ status: 'FAILED', reason: 'PARSE_LIMIT' });
    expect(byName['notes.jsonl'].error).toMatch(/document 2 has 700\d\d bytes of metadata, more than 65536/);
   }, 120_000);

  it('1000 fields are still metadata', async () => {
    const { byName, stored } = await ingestedDocuments([{ name: 'thousand.json', type: 'application/json', content: JSON.stringify({ text: 'many fields', ...fields(999) }) }]);
    expect(byName['thousand.json']).toMatchObject({ status: 'DONE' });
    expect(Object.keys(stored[0].metadata)).toHaveLength(999);
  });
});
