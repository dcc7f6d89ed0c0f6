/**
 * Node ids resolve synchronously (src/schema/node-ids.ts) with the encoding Pothos uses
 * elsewhere, and still decode through `node(id:)` over the real server.
 */
import { GraphQLObjectType, type GraphQLResolveInfo } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';
import { createDataset, tenantWithOwner } from './support/ingestion.js';
import { startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(() => server?.close());

it('gives every Node type a synchronous id: base64("Type:id")', () => {
  const nodes = Object.values(schema.getTypeMap()).filter(
    (type): type is GraphQLObjectType => type instanceof GraphQLObjectType && type.getInterfaces().some((iface) => iface.name === 'Node'),
  );
  expect(nodes.map((type) => type.name)).toEqual(expect.arrayContaining(['Dataset', 'Document', 'Endpoint', 'Tenant', 'User']));
  const id = '5f38bd6b-fd29-49e0-b276-aad7418e62fd';
  for (const type of nodes) {
    const resolved = type.getFields().id!.resolve!({ id }, {}, {}, {} as GraphQLResolveInfo);
    expect(resolved, type.name).toBe(Buffer.from(`${type.name}:${id}`).toString('base64'));
  }
});

it('answers with ids that node(id:) finds again', async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token, { slug: 'node-ids' });
  const { body } = await server.graphql('query($id: ID!) { node(id: $id) { __typename id ... on Dataset { slug } } }', { token, variables: { id: dataset.id } });
  expect(body.data.node).toEqual({ __typename: 'Dataset', id: dataset.id, slug: 'node-ids' });
  expect(Buffer.from(dataset.id, 'base64').toString()).toMatch(/^Dataset:[0-9a-f-]{36}$/);
});

it('refuses node(id:) and nodes(ids:) without credentials as UNAUTHENTICATED, before loading anything', async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token, { slug: 'node-anonymous' });
  for (const [query, variables] of [
    ['query($id: ID!) { node(id: $id) { id } }', { id: dataset.id }],
    ['query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [dataset.id] }],
  ] as const) {
    const { body } = await server.graphql(query, { variables });
    expect(body.errors?.map((error: any) => error.extensions?.code), query).toEqual(['UNAUTHENTICATED']);
    expect(JSON.stringify(body.data ?? null), query).not.toContain(dataset.id);
  }
});
