/**
 * An HTML file's title was found with a regular expression (`<title[^>]*>([\s\S]*?)<\/title\s*>`)
 * that, with no `</title>` after a `<title`, scanned to the end of the file from every `<title`:
 * quadratic. 1 MB of `<title>` kept a parser thread busy past the 60 s parse budget and failed
 * PARSE_TIMEOUT (560 KB took 29 s), and a call of 100 such files held the tenant's worker slot
 * for about 100 minutes (attacker review). The title is now read in one pass of htmlparser2's
 * tokenizer (parsers/html.ts). Tested under a parse budget of 10 s, far above what the pass
 * takes and far below what the expression took.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_PARSE_TIMEOUT_MS: '10000' } });
}, 120_000);
afterAll(() => server?.close());

const FILES = [
  // Never closed: no title (the file's name), as before.
  { name: 'titles.html', type: 'text/html', content: `<p>Lock keeper's log</p>${'<title>'.repeat(150_000)}` },
  { name: 'open-tags.html', type: 'text/html', content: `<p>Weir notes</p>${'<title'.repeat(150_000)}` },
  // A title closed before the same tail.
  { name: 'titled.html', type: 'text/html', content: `<title>Tide &amp; tables</title><p>High water at noon.</p><!-- ${'<title>'.repeat(150_000)} -->` },
];

it('reads the title of an HTML file of 150 000 unclosed <title> tags in one pass, well within the parse budget', { timeout: 120_000 }, async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const { body } = await ingestFiles(server, token, dataset.id, FILES);
  expect(body.errors).toBeUndefined();
  const job = await settled(server, token, body.data.ingestDocuments.id, 100_000);
  const { body: read } = await server.graphql(
    `query($job: ID!, $dataset: ID!) {
       ingestionJob(id: $job) { status documents { name status reason } }
       node(id: $dataset) { ... on Dataset { documents(first: 10) { edges { node { sourceKey title } } } } } }`,
    { token, variables: { job: job.id, dataset: dataset.id } },
  );
  expect(read.data.ingestionJob).toEqual({
    status: 'COMPLETED',
    documents: FILES.map(({ name }) => ({ name, status: 'DONE', reason: null })),
  });
  expect(read.data.node.documents.edges.map(({ node }: { node: unknown }) => node)).toEqual([
    { sourceKey: 'titles.html', title: 'titles.html' },
    { sourceKey: 'open-tags.html', title: 'open-tags.html' },
    { sourceKey: 'titled.html', title: 'Tide & tables' },
  ]);
});
