/**
 * An upload refused at the queued-jobs limit (SLUICE_INGEST_MAX_QUEUED_JOBS: RATE_LIMITED,
 * reason QUEUED_JOBS) writes nothing. The limit was counted only once the job's row and its
 * inputs had been written (ingestion_items, each input's whole text): the refusal rolled them
 * back, so no row stayed, but every refused call, and a client at the limit retries, wrote its
 * bytes first (up to SLUICE_INGEST_MAX_REQUEST_BYTES), left in the table's storage until a
 * vacuum. A table's size (pg_table_size: its heap and TOAST) grows with every write, rolled
 * back or not: read as the database owner before and after, it says whether anything was written.
 *
 * No worker runs here: the one job queued stays queued, and the tenant stays at its limit.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestFiles, ingestInline, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: Tenant;
let datasetId: string;

beforeAll(async () => {
  server = await startTestServer({ worker: false, env: { SLUICE_INGEST_MAX_QUEUED_JOBS: '1' } });
  owner = await tenantWithOwner(server);
  datasetId = (await createDataset(server, owner.token)).id;
  const { body } = await ingestInline(server, owner.token, datasetId, [{ title: 'Queued', text: 'The tide rises twice a day.' }]);
  expect(body.errors).toBeUndefined();
});
afterAll(() => server?.close());

/** A quarter of a megabyte of text that does not compress much: stored, it takes about that much room. */
const bulky = () => randomBytes(192 * 1024).toString('base64');

/** The tenant's jobs and inputs, and how much room the tables take, as the database owner sees them. */
const stored = () =>
  withClient(server.database.ownerUrl, async (client) => {
    const { rows } = await client.query(
      `select (select count(*)::int from ingestion_jobs where tenant_id = $1) as jobs,
              (select count(*)::int from ingestion_items where tenant_id = $1) as items,
              pg_table_size('ingestion_jobs')::bigint as "jobsBytes",
              pg_table_size('ingestion_items')::bigint as "itemsBytes"`,
      [owner.tenant.id],
    );
    return rows[0] as { jobs: number; items: number; jobsBytes: string; itemsBytes: string };
  });

it('an ingestDocuments call with inline documents is refused before its inputs are written', async () => {
  const before = await stored();
  expect(before).toMatchObject({ jobs: 1, items: 1 });
  // Within the GraphQL body limit (PAYLOAD_TOO_LARGE), which files do not count against.
  const { body } = await ingestInline(server, owner.token, datasetId, [{ title: 'Bulky', text: bulky() }]);
  expect(body.data?.ingestDocuments ?? null).toBeNull();
  expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'QUEUED_JOBS', max: 1 });
  expect(await stored()).toEqual(before);
});

it('a multipart upload of files is refused before its inputs are written', async () => {
  const before = await stored();
  const { status, body } = await ingestFiles(server, owner.token, datasetId, [
    { name: 'bulky-one.txt', type: 'text/plain', content: bulky() },
    { name: 'bulky-two.md', type: 'text/markdown', content: bulky() },
  ]);
  expect(status).toBe(429);
  expect(body.data?.ingestDocuments ?? null).toBeNull();
  expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'QUEUED_JOBS', max: 1 });
  expect(await stored()).toEqual(before);
});
