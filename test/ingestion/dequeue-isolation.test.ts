/**
 * `dequeue_ingestion` (migrations/Migration20261207180000_ingestion_dequeue.ts) runs as the
 * owner, so RLS and its own `tenant_id = app_current_tenant()` are all that keep a tenant from
 * removing another tenant's queue entries: called by the app role bound to tenant B with A's
 * job id, it must remove nothing; bound to A, it removes A's entry (the positive control).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';

let database: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;

beforeAll(async () => {
  database = await createTestDatabase();
  a = await seedTenant(database.ownerUrl, { members: [{ role: 'OWNER' }] });
  b = await seedTenant(database.ownerUrl, { members: [{ role: 'OWNER' }] });
});
afterAll(() => database?.drop());

/** Runs `sql` as the app role in a transaction bound to `tenantId`. */
const asAppIn = <T extends pg.QueryResultRow>(tenantId: string, sql: string, values: unknown[]) =>
  withClient(database.appUrl, async (client) => {
    await client.query('begin');
    await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
    const result = await client.query<T>(sql, values);
    await client.query('commit');
    return result.rows;
  });

const queueEntries = (jobId: string) =>
  withClient(database.ownerUrl, async (client) => (await client.query<{ n: number }>(`select count(*)::int as n from graphile_worker.jobs where key = $1`, [`ingest:${jobId}`])).rows[0]!.n);

it("removes only the bound tenant's queue entries: B cannot dequeue A's job, A can", async () => {
  const datasetId = randomUUID();
  const jobId = randomUUID();
  await withClient(database.ownerUrl, async (client) => {
    await client.query(`insert into datasets (id, tenant_id, name, slug, created_at, updated_at) values ($1, $2, 'Q', $3, now(), now())`, [datasetId, a.id, `q-${datasetId.slice(0, 8)}`]);
    await client.query(
      `insert into ingestion_jobs (id, tenant_id, dataset_id, options, documents_total, bytes_total, created_at, updated_at) values ($1, $2, $3, '{}', 1, 1, now(), now())`,
      [jobId, a.id, datasetId],
    );
  });
  await asAppIn(a.id, 'select enqueue_ingestion($1)', [jobId]);
  expect(await queueEntries(jobId)).toBe(1);

  // Bound to B, A's job is not there to dequeue: nothing removed, A's entry stays.
  expect(await asAppIn<{ removed: number }>(b.id, 'select dequeue_ingestion($1::uuid[]) as removed', [[jobId]])).toEqual([{ removed: 0 }]);
  expect(await queueEntries(jobId)).toBe(1);

  expect(await asAppIn<{ removed: number }>(a.id, 'select dequeue_ingestion($1::uuid[]) as removed', [[jobId]])).toEqual([{ removed: 1 }]);
  expect(await queueEntries(jobId)).toBe(0);
});
