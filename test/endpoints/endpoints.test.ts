/**
 * Endpoints and models through the API: create, list, change, delete; every bad input with
 * its code; tenant confinement (a foreign dataset or model id is NOT_FOUND; an unpublished
 * endpoint is NOT_FOUND to other tenants, a published one answers them); usage records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createModel, endpointOver, gql, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { createDataset, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { seedTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Tides', text: 'The tide rises twice a day. Harbour gates close at low tide to keep the boats afloat.' }];
const CREATE = `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id slug reference published retrieval { topK minScore } model { id type } datasets { id } } }`;

let server: TestServer;
let a: Tenant;
let b: Tenant;
beforeAll(async () => {
  server = await startTestServer();
  [a, b] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
});
afterAll(async () => {
  await server?.close();
});

async function errorCode(token: string, query: string, variables: Record<string, unknown>) {
  const body = await gql(server, token, query, variables);
  return { code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message, details: body.errors?.[0]?.extensions };
}

describe('models', () => {
  it('lists the registered types, validates configuration and refuses unknown types', async () => {
    const { modelTypes } = await must(server, a.token, '{ modelTypes { name acceptsApiKey } }');
    expect(modelTypes).toEqual(expect.arrayContaining([{ name: 'extractive', acceptsApiKey: false }]));
    const create = 'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }';
    expect((await errorCode(a.token, create, { input: { name: 'x', type: 'gpt-magic' } })).message).toMatch(/Unknown model type "gpt-magic"; one of: .*extractive/);
    const bad = await errorCode(a.token, create, { input: { name: 'x', type: 'extractive', config: { maxSentences: 0 } } });
    expect(bad.code).toBe('BAD_USER_INPUT');
    expect(bad.details?.issues?.[0]?.path).toBe('config.maxSentences');
    const keyed = await errorCode(a.token, create, { input: { name: 'x', type: 'extractive', apiKey: 'sk-test-1234' } });
    expect(keyed.message).toBe('Model type extractive takes no API key');
  });

  it('lists models as a connection, oldest first, page by page, only the tenant’s own (it was a plain list)', async () => {
    const tenant = await tenantWithOwner(server);
    const names = ['m-one', 'm-two', 'm-three'].map((name) => uniqueSlug(name));
    const ids: string[] = [];
    for (const name of names) ids.push((await createModel(server, tenant.token, { name, type: 'extractive' })).id);
    await createModel(server, b.token, { name: uniqueSlug('foreign'), type: 'extractive' });
    const page = 'query($first: Int, $after: String, $last: Int, $before: String) { models(first: $first, after: $after, last: $last, before: $before) { edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }';
    const first = (await must(server, tenant.token, page, { first: 2 })).models;
    expect(first.edges.map((edge: { node: { name: string } }) => edge.node.name)).toEqual(names.slice(0, 2));
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const second = (await must(server, tenant.token, page, { first: 2, after: first.pageInfo.endCursor })).models;
    expect(second.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([ids[2]]);
    expect(second.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const back = (await must(server, tenant.token, page, { last: 1, before: second.pageInfo.startCursor })).models;
    expect(back.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([ids[1]]);
    // Bad page requests are BAD_USER_INPUT, never a 500.
    expect((await errorCode(tenant.token, page, { first: 101 })).code).toBe('BAD_USER_INPUT');
    expect((await errorCode(tenant.token, page, { first: 1, after: 'not-a-cursor' })).code).toBe('BAD_USER_INPUT');
    expect((await errorCode(tenant.token, page, { first: 1, last: 1 })).code).toBe('BAD_USER_INPUT');
  });

  it('refuses a duplicate name with CONFLICT and deleting a model an endpoint uses', async () => {
    const name = uniqueSlug('m');
    await createModel(server, a.token, { name, type: 'extractive' });
    const duplicate = await errorCode(a.token, 'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', { input: { name, type: 'extractive' } });
    expect(duplicate.code).toBe('CONFLICT');

    const setup = await endpointOver(server, a.token, DOCS);
    const inUse = await errorCode(a.token, 'mutation($id: ID!) { deleteModel(id: $id) { id } }', { id: setup.modelId });
    expect(inUse).toMatchObject({ code: 'CONFLICT', details: { reason: 'MODEL_IN_USE' } });
    await must(server, a.token, 'mutation($id: ID!) { deleteEndpoint(id: $id) { id } }', { id: setup.endpointId });
    const deleted = await must(server, a.token, 'mutation($id: ID!) { deleteModel(id: $id) { id } }', { id: setup.modelId });
    expect(deleted.deleteModel.id).toBe(setup.modelId);
  });
});

describe('endpoints', () => {
  it('creates, reads, lists, updates and deletes an endpoint', async () => {
    const dataset = await createDataset(server, a.token);
    const model = await createModel(server, a.token, { name: uniqueSlug('m'), type: 'extractive' });
    const slug = uniqueSlug('ep');
    const { createEndpoint } = await must(server, a.token, CREATE, {
      input: { name: 'Tides', slug, datasetIds: [dataset.id], modelId: model.id, retrieval: { topK: 7, minScore: 0.01 } },
    });
    expect(createEndpoint).toMatchObject({
      slug,
      reference: `${a.tenant.slug}/${slug}`,
      published: false,
      retrieval: { topK: 7, minScore: 0.01 },
      model: { id: model.id, type: 'extractive' },
      datasets: [{ id: dataset.id }],
    });
    const { endpoint } = await must(server, a.token, 'query($slug: String!) { endpoint(slug: $slug) { id } }', { slug });
    expect(endpoint.id).toBe(createEndpoint.id);
    const { endpoints } = await must(server, a.token, '{ endpoints(first: 50) { edges { node { slug } } } }');
    expect(endpoints.edges.map((edge: { node: { slug: string } }) => edge.node.slug)).toContain(slug);

    const { updateEndpoint } = await must(
      server,
      a.token,
      'mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { published retrieval { topK minScore } description } }',
      { id: createEndpoint.id, input: { published: true, retrieval: { topK: 3, minScore: null }, description: 'Tide tables' } },
    );
    expect(updateEndpoint).toEqual({ published: true, retrieval: { topK: 3, minScore: null }, description: 'Tide tables' });

    await must(server, a.token, 'mutation($id: ID!) { deleteEndpoint(id: $id) { id } }', { id: createEndpoint.id });
    const gone = await must(server, a.token, 'query($slug: String!) { endpoint(slug: $slug) { id } }', { slug });
    expect(gone.endpoint).toBeNull();
  });

  it('keeps the description when an update leaves it out (it was cleared by every endpoint or dataset update)', async () => {
    const setup = await endpointOver(server, a.token, DOCS);
    const update = 'mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { name description } }';
    await must(server, a.token, update, { id: setup.endpointId, input: { description: 'Tide tables' } });
    expect((await must(server, a.token, update, { id: setup.endpointId, input: { name: 'Renamed' } })).updateEndpoint).toEqual({ name: 'Renamed', description: 'Tide tables' });
    expect((await must(server, a.token, update, { id: setup.endpointId, input: { description: null } })).updateEndpoint).toEqual({ name: 'Renamed', description: null });

    const dataset = await createDataset(server, a.token, { description: 'Harbour logs' });
    const renamed = await must(server, a.token, 'mutation($id: ID!) { updateDataset(id: $id, input: { name: "Renamed" }) { name description } }', { id: dataset.id });
    expect(renamed.updateDataset).toEqual({ name: 'Renamed', description: 'Harbour logs' });
  });

  it('refuses bad slugs, topK, empty datasets, taken slugs and other tenants’ ids', async () => {
    const dataset = await createDataset(server, a.token);
    const model = await createModel(server, a.token, { name: uniqueSlug('m'), type: 'extractive' });
    const foreignDataset = await createDataset(server, b.token);
    const foreignModel = await createModel(server, b.token, { name: uniqueSlug('m'), type: 'extractive' });
    const base = { name: 'E', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: model.id };
    await must(server, a.token, CREATE, { input: base });
    const cases: [Record<string, unknown>, string, string?][] = [
      [{ slug: 'No Caps' }, 'BAD_USER_INPUT', 'slug'],
      [{ slug: 'ab' }, 'BAD_USER_INPUT', 'slug'],
      [{ slug: uniqueSlug('ep'), retrieval: { topK: 0 } }, 'BAD_USER_INPUT', 'topK'],
      [{ slug: uniqueSlug('ep'), retrieval: { topK: 51 } }, 'BAD_USER_INPUT', 'topK'],
      [{ slug: uniqueSlug('ep'), retrieval: { minScore: -1 } }, 'BAD_USER_INPUT', 'minScore'],
      [{ slug: uniqueSlug('ep'), datasetIds: [] }, 'BAD_USER_INPUT', 'datasetIds'],
      [{ slug: base.slug }, 'CONFLICT', 'slug'],
      [{ slug: uniqueSlug('ep'), datasetIds: [foreignDataset.id] }, 'NOT_FOUND', 'datasetIds'],
      [{ slug: uniqueSlug('ep'), modelId: foreignModel.id }, 'NOT_FOUND', 'modelId'],
    ];
    for (const [change, code, field] of cases) {
      const result = await errorCode(a.token, CREATE, { input: { ...base, ...change } });
      expect({ change, code: result.code, field: result.details?.field }).toEqual({ change, code, field });
    }
  });

  it('needs ADMIN to manage endpoints; a VIEWER may query', async () => {
    const tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'VIEWER' }] });
    const setup = await endpointOver(server, await server.tokenFor(tenant, tenant.users[0]!), DOCS);
    const viewer = await server.tokenFor(tenant, tenant.users[1]!);
    const denied = await errorCode(viewer, 'mutation($id: ID!) { deleteEndpoint(id: $id) { id } }', { id: setup.endpointId });
    expect(denied.code).toBe('FORBIDDEN');
    const asked = await queryEndpoint(server, viewer, setup.reference, 'tide', undefined, 'passages { documentTitle }');
    expect(asked.data.queryEndpoint.passages).toEqual([{ documentTitle: 'Tides' }]);
  });
});

describe('tenant confinement of queries', () => {
  it('an unpublished endpoint is NOT_FOUND to another tenant, like a missing one', async () => {
    const setup = await endpointOver(server, a.token, DOCS);
    const foreign = await queryEndpoint(server, b.token, setup.reference, 'tide', undefined, 'answer');
    const missing = await queryEndpoint(server, b.token, `${a.tenant.slug}/no-such-endpoint`, 'tide', undefined, 'answer');
    expect(foreign.errors[0]).toMatchObject({ message: 'Endpoint not found', extensions: { code: 'NOT_FOUND' } });
    expect(missing.errors[0].message).toBe(foreign.errors[0].message);
    expect(foreign.data).toBeNull();
    // Nor can B read it through the tenant's own fields.
    const viaNode = await gql(server, b.token, 'query($id: ID!) { node(id: $id) { id } }', { id: setup.endpointId });
    expect(viaNode.data?.node ?? null).toBeNull();
  });

  it('a published endpoint answers another tenant from the owner’s data, and both see nothing else', async () => {
    const setup = await endpointOver(server, a.token, DOCS, { published: true });
    const asked = await queryEndpoint(server, b.token, setup.reference, 'when do the harbour gates close', undefined, 'passages { documentTitle } answer');
    expect(asked.errors).toBeUndefined();
    expect(asked.data.queryEndpoint.passages).toEqual([{ documentTitle: 'Tides' }]);
    expect(asked.data.queryEndpoint.answer).toContain('Harbour gates close at low tide');
    // B still cannot manage or list it.
    const listed = await must(server, b.token, '{ endpoints(first: 50) { edges { node { id } } } }');
    expect(listed.endpoints.edges.map((edge: { node: { id: string } }) => edge.node.id)).not.toContain(setup.endpointId);
  });

  it('records usage for every query under the endpoint’s tenant, naming the caller', async () => {
    const setup = await endpointOver(server, a.token, DOCS, { published: true });
    await queryEndpoint(server, a.token, setup.reference, 'tide', undefined, 'answer');
    await queryEndpoint(server, b.token, setup.reference, 'tide', undefined, 'answer');
    await queryEndpoint(server, b.token, setup.reference, 'x'.repeat(9000), undefined, 'answer');
    const rows = await withClient(server.database.ownerUrl, async (client) => {
      await client.query(`select set_config('app.tenant_id', $1, false)`, [a.tenant.id]);
      const { rows } = await client.query(
        `select u.tenant_id, u.caller_tenant_id, u.caller_kind, u.outcome, u.total_tokens, u.prompt_tokens + u.completion_tokens as sum
           from usage_records u join endpoints e on e.id = u.endpoint_id where e.slug = $1 order by u.created_at`,
        [setup.reference.split('/')[1]],
      );
      return rows;
    });
    // The refused (too long) query never started, so it has no record.
    expect(rows.map((row) => [row.caller_tenant_id, row.caller_kind, row.outcome])).toEqual([
      [a.tenant.id, 'user', 'ok'],
      [b.tenant.id, 'user', 'ok'],
    ]);
    for (const row of rows) {
      expect(row.tenant_id).toBe(a.tenant.id);
      expect(row.total_tokens).toBe(row.sum);
      expect(row.total_tokens).toBeGreaterThan(0);
    }
  });
});
