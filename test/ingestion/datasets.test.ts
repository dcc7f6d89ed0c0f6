/** Datasets over GraphQL: validation, listing, updating, deleting with everything in them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { codeOf } from '../support/identity.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { seedTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const CREATE = `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name slug description language documentCount chunkCount bytes lastIngestedAt } }`;

describe('createDataset', () => {
  it('creates with defaults, and refuses bad names, slugs, languages and a taken slug', async () => {
    const { token } = await tenantWithOwner(server);
    const { body } = await server.graphql(CREATE, { token, variables: { input: { name: '  Handbook ', slug: 'handbook', description: 'All of it' } } });
    expect(body.data.createDataset).toMatchObject({ name: 'Handbook', slug: 'handbook', description: 'All of it', language: 'english', documentCount: 0, chunkCount: 0, bytes: 0, lastIngestedAt: null });

    const refused = async (input: Record<string, unknown>) => (await server.graphql(CREATE, { token, variables: { input: { name: 'X', slug: 'xyz', ...input } } })).body;
    expect(codeOf(await refused({ slug: 'handbook' }))).toBe('CONFLICT');
    expect(codeOf(await refused({ slug: 'No_Caps' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await refused({ slug: 'ab' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await refused({ name: '' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await refused({ name: 'x'.repeat(256) }))).toBe('BAD_USER_INPUT');
    expect((await refused({ language: 'klingon' })).errors[0].message).toContain('language must be one of');
    expect((await refused({ language: 'german', slug: 'german-docs' })).data.createDataset.language).toBe('german');
  });

  it('lets another tenant use the same slug, and a viewer create nothing', async () => {
    const a = await tenantWithOwner(server);
    const b = await tenantWithOwner(server);
    await createDataset(server, a.token, { slug: 'shared-slug' });
    expect((await createDataset(server, b.token, { slug: 'shared-slug' })).slug).toBe('shared-slug');
    const tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'VIEWER' }] });
    const viewer = await server.tokenFor(tenant, tenant.users[0]!);
    expect(codeOf((await server.graphql(CREATE, { token: viewer, variables: { input: { name: 'X', slug: 'viewer-made' } } })).body)).toBe('FORBIDDEN');
  });
});

describe('datasets, dataset, updateDataset', () => {
  it('filters by name with %, _ and \ taken literally', async () => {
    const { token } = await tenantWithOwner(server);
    for (const name of ['Q1_report', 'Q1 report', '100% done', 'C:\\shared\\notes', 'Plain']) await createDataset(server, token, { name });
    const named = async (part: string) =>
      (await server.graphql(`query($name: String) { datasets(first: 50, nameContains: $name) { edges { node { name } } } }`, { token, variables: { name: part } })).body.data.datasets.edges.map(
        (edge: any) => edge.node.name,
      );
    expect(await named('_')).toEqual(['Q1_report']);
    expect(await named('q1_')).toEqual(['Q1_report']);
    expect(await named('%')).toEqual(['100% done']);
    expect(await named('0%_')).toEqual([]);
    expect(await named('\\')).toEqual(['C:\\shared\\notes']);
    expect(await named('\\n')).toEqual(['C:\\shared\\notes']);
    expect(await named('\\_')).toEqual([]);
  });

  it('pages, filters by name, finds by id or slug, updates', async () => {
    const { token } = await tenantWithOwner(server);
    for (const name of ['Alpha guide', 'Beta notes', 'alpha FAQ']) await createDataset(server, token, { name });
    const list = async (variables: Record<string, unknown>) =>
      (await server.graphql(`query($first: Int, $after: String, $name: String) { datasets(first: $first, after: $after, nameContains: $name) { edges { node { name } } pageInfo { hasNextPage endCursor } } }`, { token, variables })).body.data.datasets;
    const first = await list({ first: 2 });
    expect(first.edges.map((e: any) => e.node.name)).toEqual(['Alpha guide', 'Beta notes']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect((await list({ first: 2, after: first.pageInfo.endCursor })).edges.map((e: any) => e.node.name)).toEqual(['alpha FAQ']);
    expect((await list({ name: 'ALPHA' })).edges.map((e: any) => e.node.name)).toEqual(['Alpha guide', 'alpha FAQ']);
    expect((await list({ name: '%' })).edges).toEqual([]);
    const backward = async (variables: Record<string, unknown>) =>
      (await server.graphql(`query($last: Int, $before: String) { datasets(last: $last, before: $before) { edges { node { name } } pageInfo { hasPreviousPage startCursor } } }`, { token, variables })).body.data.datasets;
    const tail = await backward({ last: 2 });
    expect(tail.edges.map((e: any) => e.node.name)).toEqual(['Beta notes', 'alpha FAQ']);
    expect(tail.pageInfo.hasPreviousPage).toBe(true);
    expect((await backward({ last: 2, before: tail.pageInfo.startCursor })).edges.map((e: any) => e.node.name)).toEqual(['Alpha guide']);

    const dataset = await createDataset(server, token, { name: 'Renamed later' });
    const { body } = await server.graphql(`mutation($id: ID!) { updateDataset(id: $id, input: { name: "New name", slug: "new-slug", description: null }) { name slug description } }`, { token, variables: { id: dataset.id } });
    expect(body.data.updateDataset).toEqual({ name: 'New name', slug: 'new-slug', description: null });
    const bySlug = await server.graphql(`{ dataset(slug: "new-slug") { id name } }`, { token });
    expect(bySlug.body.data.dataset).toEqual({ id: dataset.id, name: 'New name' });
  });

  it('lists every field as reading the dataset by id gives it, ingested documents counted', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token, { description: 'Counted' });
    await createDataset(server, token);
    const job = (await ingestInline(server, token, dataset.id, [{ title: 'One', text: 'Some words to chunk. '.repeat(50).trim() }])).body.data.ingestDocuments;
    await settled(server, token, job.id);
    const fields = 'id name slug description language documentCount chunkCount bytes lastIngestedAt createdAt updatedAt';
    const listed = (await server.graphql(`{ datasets(first: 10) { edges { node { ${fields} } } } }`, { token })).body.data.datasets.edges.map((e: any) => e.node);
    expect(listed).toHaveLength(2);
    expect(listed[0]).toMatchObject({ id: dataset.id, description: 'Counted', documentCount: 1, chunkCount: expect.any(Number), bytes: 1049, lastIngestedAt: expect.any(String) });
    expect(listed[0].chunkCount).toBeGreaterThan(0);
    for (const node of listed) {
      expect(node).toEqual((await server.graphql(`query($id: ID!) { dataset(id: $id) { ${fields} } }`, { token, variables: { id: node.id } })).body.data.dataset);
    }
  });

  it("hides another tenant's dataset: null on read, NOT_FOUND on write", async () => {
    const a = await tenantWithOwner(server);
    const b = await tenantWithOwner(server);
    const theirs = await createDataset(server, b.token);
    expect((await server.graphql(`query($id: ID!) { dataset(id: $id) { name } }`, { token: a.token, variables: { id: theirs.id } })).body.data.dataset).toBeNull();
    const update = await server.graphql(`mutation($id: ID!) { updateDataset(id: $id, input: { name: "mine" }) { name } }`, { token: a.token, variables: { id: theirs.id } });
    expect(codeOf(update.body)).toBe('NOT_FOUND');
    const remove = await server.graphql(`mutation($id: ID!) { deleteDataset(id: $id) { id } }`, { token: a.token, variables: { id: theirs.id } });
    expect(codeOf(remove.body)).toBe('NOT_FOUND');
    expect((await server.graphql(`query($id: ID!) { dataset(id: $id) { name } }`, { token: b.token, variables: { id: theirs.id } })).body.data.dataset.name).toBe('Docs');
  });
});

describe('deleteDataset', () => {
  it('removes its documents, chunks and jobs', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, [{ title: 'doc', text: 'Some text to index. '.repeat(200) }]);
    const job = await settled(server, token, body.data.ingestDocuments.id);
    expect(job.stage).toBe('COMPLETED');
    const datasetUuid = databaseIdOf(dataset.id);
    const jobUuid = databaseIdOf(job.id);
    const count = () =>
      withClient(server.database.ownerUrl, async (client) => {
        const { rows } = await client.query(
          `select (select count(*) from documents where dataset_id = $1)::int as documents, (select count(*) from chunks where dataset_id = $1)::int as chunks,
                  (select count(*) from ingestion_jobs where dataset_id = $1)::int as jobs,
                  (select count(*) from ingestion_items where job_id = $2)::int as items`,
          [datasetUuid, jobUuid],
        );
        return rows[0];
      });
    expect(await count()).toEqual({ documents: 1, chunks: job.dataset.chunkCount, jobs: 1, items: 1 });
    const removed = await server.graphql(`mutation($id: ID!) { deleteDataset(id: $id) { id } }`, { token, variables: { id: dataset.id } });
    expect(removed.body.data.deleteDataset.id).toBe(dataset.id);
    expect(await count()).toEqual({ documents: 0, chunks: 0, jobs: 0, items: 0 });
  });
});
