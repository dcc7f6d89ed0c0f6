/**
 * The cost limit counts what an operation can return: every list-sized argument (`ids`,
 * `first` / `last`) multiplies the cost of what it returns, whether written in the document
 * or passed as a variable, and nested lists multiply. Computed after variables are known and
 * before anything runs; refused with `OPERATION_LIMIT_EXCEEDED` (`cost`, or `listSize` for
 * more ids than `nodes` takes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { unsizedListFields } from '../../src/graphql/operation-cost.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { wsClient, refusalOf } from './support.js';

const GRAPHQL_RESPONSE = { accept: 'application/graphql-response+json' };
const DOCUMENTS_OF_EACH = 'query($ids: [ID!]!, $n: Int) { nodes(ids: $ids) { id ... on Dataset { documents(first: $n) { edges { node { id title } } } } } }';

let server: TestServer;
let tenant: SeededTenant;
let token: string;
let datasetId: string;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'VIEWER' }] });
  const owner = await server.tokenFor(tenant, tenant.users[0]!);
  const created = await server.graphql('mutation { createDataset(input: { name: "Handbook", slug: "handbook" }) { id } }', { token: owner });
  datasetId = created.body.data.createDataset.id;
  token = await server.tokenFor(tenant, tenant.users[1]!);
});
afterAll(() => server?.close());

describe('nodes(ids:)', () => {
  it('refuses 5 000 copies of one id with a page of documents each, before running anything', async () => {
    const ids = Array.from({ length: 5_000 }, () => datasetId);
    const started = performance.now();
    const { status, body } = await server.graphql(DOCUMENTS_OF_EACH, { token, variables: { ids, n: 100 }, headers: GRAPHQL_RESPONSE });
    const elapsedMs = performance.now() - started;
    expect([status, refusalOf(body)]).toEqual([400, 'listSize:100']);
    expect(body.errors[0].message).toBe('"nodes" takes at most 100 ids; 5000 were given.');
    expect(body.data).toBeUndefined();
    console.info(`5 000 ids refused in ${elapsedMs.toFixed(0)} ms`);
  });

  it('refuses 101 ids, given as a variable or in the document, even with nothing nested', async () => {
    const ids = Array.from({ length: 101 }, () => datasetId);
    const byVariable = await server.graphql('query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { token, variables: { ids }, headers: GRAPHQL_RESPONSE });
    expect([byVariable.status, refusalOf(byVariable.body)]).toEqual([400, 'listSize:100']);
    const literal = await server.graphql(`{ nodes(ids: ${JSON.stringify(ids)}) { id } }`, { token, headers: GRAPHQL_RESPONSE });
    expect([literal.status, refusalOf(literal.body)]).toEqual([400, 'listSize:100']);
  });

  it('multiplies the cost of what each id returns: 100 ids × 100 documents is refused, by variables and by literals', async () => {
    const ids = Array.from({ length: 100 }, () => datasetId);
    const byVariables = await server.graphql(DOCUMENTS_OF_EACH, { token, variables: { ids, n: 100 }, headers: GRAPHQL_RESPONSE });
    expect([byVariables.status, refusalOf(byVariables.body)]).toEqual([400, 'cost:50000']);
    expect(byVariables.body.errors[0].message).toMatch(/^Query Cost limit of 50000 exceeded, found \d+\.$/);
    const literal = `{ nodes(ids: ${JSON.stringify(ids)}) { id ... on Dataset { documents(first: 100) { edges { node { id title } } } } } }`;
    const byLiterals = await server.graphql(literal, { token, headers: GRAPHQL_RESPONSE });
    expect([byLiterals.status, refusalOf(byLiterals.body)]).toEqual([400, 'cost:50000']);
  });

  it('answers a reasonable nodes query (a few ids, a page of documents each)', async () => {
    const { status, body } = await server.graphql(DOCUMENTS_OF_EACH, { token, variables: { ids: [datasetId, datasetId, datasetId], n: 20 } });
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
    expect(body.data.nodes).toEqual([0, 1, 2].map(() => ({ id: datasetId, documents: { edges: [] } })));
  });
});

describe('first / last', () => {
  const NESTED = 'query($outer: Int, $inner: Int) { datasets(first: $outer) { edges { node { id documents(first: $inner) { edges { node { id } } } } } } }';

  it('multiplies by first given as a variable: 100 × 100 nested pages are refused', async () => {
    const { status, body } = await server.graphql(NESTED, { token, variables: { outer: 100, inner: 100 }, headers: GRAPHQL_RESPONSE });
    expect([status, refusalOf(body)]).toEqual([400, 'cost:50000']);
  });

  it('multiplies nested lists: each of 100 × 5 and 5 × 100 passes, where 100 × 100 did not', async () => {
    for (const variables of [{ outer: 100, inner: 5 }, { outer: 5, inner: 100 }]) {
      const { status, body } = await server.graphql(NESTED, { token, variables });
      expect(body.errors).toBeUndefined();
      expect(status).toBe(200);
      expect(body.data.datasets.edges.map((edge: any) => edge.node.id)).toEqual([datasetId]);
    }
  });

  it('counts last like first, and an absent page size as the default page (20)', async () => {
    const last = 'query($n: Int) { datasets(last: $n) { edges { node { documents(last: $n) { edges { node { id } } } } } } }';
    expect(refusalOf((await server.graphql(last, { token, variables: { n: 100 } })).body)).toBe('cost:50000');
    // 20 × 20 (the default page, twice) is well within the limit.
    const unsized = await server.graphql('{ datasets { edges { node { documents { edges { node { id title } } } } } } }', { token });
    expect(unsized.body.errors).toBeUndefined();
  });

  it('refuses over graphql-ws too, where variables arrive in the subscribe message', async () => {
    const client = wsClient(server.wsUrl, { token });
    try {
      const results: any[] = [];
      try {
        for await (const result of client.iterate({ query: NESTED, variables: { outer: 100, inner: 100 } })) results.push(result);
      } catch (error) {
        if (!Array.isArray(error)) throw error;
        results.push({ errors: error });
      }
      expect(refusalOf(results[0])).toBe('cost:50000');
    } finally {
      await client.dispose();
    }
  });
});

describe('the cost model covers the whole schema', () => {
  it('knows how many items every list field can return', () => {
    expect(unsizedListFields(schema)).toEqual([]);
  });
});
