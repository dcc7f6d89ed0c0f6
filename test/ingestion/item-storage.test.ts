/**
 * An input's content waits in `ingestion_items` uncompressed (Migration20261123053617, which no
 * test held to until now): it is a buffer for one job, and PostgreSQL's default compression
 * (pglz) costs the upload far more CPU than the storage it saves for a job's length: 305 ms of
 * the backend's CPU per 12 MB of Markdown inserted against 38 ms uncompressed (PostgreSQL 15,
 * 2026-12-04). Checked on a real upload of very compressible text, held there by an API
 * without a worker, on the rows themselves.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestFiles, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(() => server?.close());

it('keeps an uploaded input out of line and uncompressed until its job reads it', async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  // 600 KB that pglz would shrink to a few KB.
  const content = `# Tide table\n\n${'High water at the lock at six; low water at noon. '.repeat(12_000)}`;
  const { body } = await ingestFiles(server, token, dataset.id, [{ name: 'tides.md', type: 'text/markdown', content }]);
  expect(body.errors).toBeUndefined();
  const jobId = databaseIdOf(body.data.ingestDocuments.id);

  const [row] = await withClient(server.database.ownerUrl, async (client) =>
    (
      await client.query(
        `select pg_column_compression(content) as compression, pg_column_size(content) as stored, octet_length(content) as bytes,
                (select attstorage from pg_attribute where attrelid = 'ingestion_items'::regclass and attname = 'content') as storage
           from ingestion_items where job_id = $1`,
        [jobId],
      )
    ).rows,
  );
  expect(row).toMatchObject({ compression: null, storage: 'e', bytes: Buffer.byteLength(content) });
  expect(row.stored).toBeGreaterThanOrEqual(row.bytes);
});
