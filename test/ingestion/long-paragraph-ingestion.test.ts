/**
 * An ordinary 2 MB text file of line-broken sentences ingests (attacker review stop45, F6): it
 * failed with PARSE_TIMEOUT, chunking one paragraph of that size taking minutes. Over HTTP,
 * with the in-process worker and its parser threads, and the stored chunks are the chunker's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { chunkText } from '../../src/domains/ingestion/chunker.js';
import { DEFAULT_INGESTION_OPTIONS } from '../../src/domains/ingestion/options.js';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { lineBrokenText } from '../support/long-text.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());


it('a 2 MB text file of line-broken sentences is indexed, chunked as the chunker chunks it', { timeout: 120_000 }, async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const text = lineBrokenText(2_000_000, 6);
  const { body } = await ingestFiles(server, token, dataset.id, [{ name: 'log.txt', type: 'text/plain', content: text }]);
  expect(body.errors).toBeUndefined();
  const job = await settled(server, token, body.data.ingestDocuments.id, 100_000);
  const expected = chunkText(text, DEFAULT_INGESTION_OPTIONS.chunking).map((chunk) => chunk.content);
  expect(job.stage).toBe('COMPLETED');
  expect(job.documents.map((d: any) => [d.name, d.status, d.outcome, d.chunks])).toEqual([['log.txt', 'DONE', 'INDEXED', expected.length]]);
  const stored = await withClient(server.database.ownerUrl, async (client) =>
    (await client.query('select content from chunks where dataset_id = $1 order by ordinal', [databaseIdOf(dataset.id)])).rows.map((row) => row.content as string),
  );
  expect(stored.length).toBe(expected.length);
  // One comparison, not one per chunk: a mismatch prints the first differing chunk only.
  const first = stored.findIndex((content, index) => content !== expected[index]);
  expect(first === -1 ? null : { index: first, stored: stored[first], expected: expected[first] }).toBeNull();
});
