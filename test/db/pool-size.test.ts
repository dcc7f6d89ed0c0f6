/**
 * SLUICE_DATABASE_POOL_SIZE: the app role's connections per process. Validated like every
 * setting; a pool of one still answers concurrent requests (they wait their turn, each in its
 * own transaction), so a small pool is slower, never wrong.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { issuesOf } from '../support/config.js';
import { createDataset, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_DATABASE_POOL_SIZE: '1' }, worker: false });
});
afterAll(() => server?.close());

it('defaults to 10 and refuses what is not a size', () => {
  expect(parseConfig({}).database.poolSize).toBe(10);
  expect(parseConfig({ SLUICE_DATABASE_POOL_SIZE: '40' }).database.poolSize).toBe(40);
  expect(issuesOf({ SLUICE_DATABASE_POOL_SIZE: '0' })).toEqual(['SLUICE_DATABASE_POOL_SIZE: must be at least 1 (got "0")']);
  expect(issuesOf({ SLUICE_DATABASE_POOL_SIZE: 'ten' })).toEqual(['SLUICE_DATABASE_POOL_SIZE: must be a number (got "ten")']);
  expect(issuesOf({ SLUICE_DATABASE_POOL_SIZE: '501' })).toEqual(['SLUICE_DATABASE_POOL_SIZE: must be at most 500 (got "501")']);
});

it('serves concurrent requests through a pool of one, each seeing its own tenant', async () => {
  const pool = (server.orm.em.getConnection().getKnex().client as { pool: { max: number } }).pool;
  expect(pool.max).toBe(1);
  const tenants = await Promise.all([tenantWithOwner(server), tenantWithOwner(server), tenantWithOwner(server)]);
  await Promise.all(tenants.map((tenant, index) => createDataset(server, tenant.token, { slug: `pool-${index}` })));
  const pages = await Promise.all(
    [...tenants, ...tenants].map(async (tenant) => (await server.graphql('{ datasets { edges { node { slug } } } }', { token: tenant.token })).body.data.datasets.edges),
  );
  expect(pages.map((edges) => edges.map((edge: { node: { slug: string } }) => edge.node.slug))).toEqual([['pool-0'], ['pool-1'], ['pool-2'], ['pool-0'], ['pool-1'], ['pool-2']]);
});
