/**
 * Operation limits (GraphQL Armor's rules, a token limit while parsing, introspection off in
 * production) and the body size limit, over HTTP and graphql-ws: abusive documents are refused
 * with stable codes; the queries the suite, the SDK and GraphiQL send are not.
 */
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { wsClient, wsOperation, refusalOf } from './support.js';

const GRAPHQL_RESPONSE = { accept: 'application/graphql-response+json' };

/** `members { edges { node { tenant { … } } } }`, `rounds` times: 4 levels a round. */
function membersChain(rounds: number): string {
  let inner = 'role';
  for (let i = 0; i < rounds; i++) inner = `tenant { members { edges { node { ${inner} } } } }`;
  return `{ viewer { ${inner} } }`;
}

let server: TestServer;
let tenant: SeededTenant;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }] });
  token = await server.tokenFor(tenant, tenant.users[0]!);
});
afterAll(() => server?.close());

describe('refused operations', () => {
  it('refuses a deep query (depth 14 > 12) before running it', async () => {
    const { status, body } = await server.graphql(membersChain(3), { token, headers: GRAPHQL_RESPONSE });
    expect(status).toBe(400);
    expect(refusalOf(body)).toBe('depth:12');
    expect(body.errors[0].message).toBe('Query depth limit of 12 exceeded, found 14.');
    expect(body.data).toBeUndefined();
  });

  it('refuses a wide query whose pages multiply (100 × 100 rows)', async () => {
    const query = '{ datasets(first: 100) { edges { node { id name documents(first: 100) { edges { node { id } } } } } } }';
    const { status, body } = await server.graphql(query, { token, headers: GRAPHQL_RESPONSE });
    expect(status).toBe(400);
    expect(refusalOf(body)).toBe('cost:50000');
    expect(body.errors[0].message).toMatch(/^Query Cost limit of 50000 exceeded, found \d+/);
  });

  it('refuses an alias bomb, over HTTP and graphql-ws', async () => {
    const bomb = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: viewer { kind }`).join(' ')} }`;
    const http = await server.graphql(bomb, { headers: GRAPHQL_RESPONSE });
    expect([http.status, refusalOf(http.body)]).toEqual([400, 'aliases:15']);
    // __typename too (GraphQL Armor allows it by default): 660 of them in 11 KB were ten times an ordinary request's work.
    const typenames = `{ ${Array.from({ length: 660 }, (_, i) => `t${i}: __typename`).join(' ')} }`;
    const cheap = await server.graphql(typenames, { headers: GRAPHQL_RESPONSE });
    expect([cheap.status, refusalOf(cheap.body)]).toEqual([400, 'aliases:15']);
    // Unaliased, and a few aliased, still answer.
    expect((await server.graphql('{ __typename a: __typename b: __typename }')).body).toEqual({ data: { __typename: 'Query', a: 'Query', b: 'Query' } });
    const client = wsClient(server.wsUrl);
    try {
      expect(refusalOf(await wsOperation(client, bomb))).toBe('aliases:15');
    } finally {
      await client.dispose();
    }
  });

  it('stops parsing a document past 2000 tokens', async () => {
    const { status, body } = await server.graphql(`{ viewer { ${'kind '.repeat(2_500)} } }`, { headers: GRAPHQL_RESPONSE });
    expect([status, refusalOf(body)]).toEqual([400, 'tokens:2000']);
    expect(body.errors[0].message).toBe('Token limit of 2000 exceeded.');
  });

  it('refuses more than 50 directives', async () => {
    const { status, body } = await server.graphql(`{ ${'__typename @include(if: true) '.repeat(51)} }`, { headers: GRAPHQL_RESPONSE });
    expect([status, refusalOf(body)]).toEqual([400, 'directives:50']);
  });

  it('answers a legacy application/json client with 200 and the same code (GraphQL over HTTP)', async () => {
    const { status, body } = await server.graphql(membersChain(3), { headers: { accept: 'application/json' } });
    expect([status, refusalOf(body)]).toEqual([200, 'depth:12']);
  });

  it('refuses an oversized body with 413, and an oversized WebSocket message by closing with 1009', async () => {
    const padding = 'x'.repeat(server.config.http.maxBodyBytes);
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename } # ${padding}` }),
    });
    expect(response.status).toBe(413);
    expect((await response.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');

    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.on('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { padding } }));
    expect(await closed).toBe(1009);
  });
});

describe('normal operations', () => {
  it('runs the deepest and widest queries the suite and SDK send', async () => {
    // The query-count test's query (depth 7) and a full page of members with their users (cost 2104, see src/graphql/operation-cost.ts).
    const queries = [
      '{ viewer { tenant { members(first: 20) { edges { node { role user { email } } } } } } }',
      '{ viewer { tenant { members(first: 100) { edges { node { role createdAt user { email displayName createdAt } tenant { slug name } } } pageInfo { hasNextPage endCursor } } } } }',
    ];
    for (const query of queries) {
      const { status, body } = await server.graphql(query, { token });
      expect(body.errors).toBeUndefined();
      expect(status).toBe(200);
      expect(body.data.viewer.tenant.members.edges.map((edge: any) => edge.node.role)).toEqual(['OWNER', 'MEMBER']);
    }
    // Depth 12 exactly is allowed.
    const atLimit = await server.graphql(`{ viewer { tenant { members { edges { node { tenant { members { edges { node { tenant { slug } } } } } } } } } } }`, { token });
    expect(atLimit.body.errors).toBeUndefined();
  });

  it("answers GraphiQL's introspection query outside production, and refuses a recursive one", async () => {
    const { status, body } = await server.graphql(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, specifiedByUrl: true, directiveIsRepeatable: true }));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.__schema.queryType.name).toBe('Query');
    // Deep introspection is refused by graphql-js's MaxIntrospectionDepthRule (the depth limit skips __schema).
    const recursive = await server.graphql('{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }');
    expect(recursive.body.errors?.[0]?.message).toMatch(/Maximum introspection depth exceeded/);
    expect(recursive.body.data ?? null).toBeNull();
  });
});

describe('production', () => {
  let production: TestServer;
  let introspective: TestServer;
  beforeAll(async () => {
    // The test database speaks no TLS, which production otherwise insists on.
    const env = { NODE_ENV: 'production', CORS_ORIGINS: 'https://console.example.test', SLUICE_DATABASE_SSL: 'disable' };
    production = await startTestServer({ env: { ...env, SLUICE_MAX_ALIASES: '2' } });
    introspective = await startTestServer({ env: { ...env, SLUICE_INTROSPECTION: 'true' } });
  });
  afterAll(async () => {
    await production?.close();
    await introspective?.close();
  });

  it('refuses introspection over HTTP and graphql-ws, but not __typename', async () => {
    const http = await production.graphql('{ __schema { queryType { name } } }', { headers: GRAPHQL_RESPONSE });
    expect([http.status, refusalOf(http.body)]).toEqual([400, 'INTROSPECTION_DISABLED']);
    const type = await production.graphql('{ __type(name: "Query") { name } }');
    expect(refusalOf(type.body)).toBe('INTROSPECTION_DISABLED');
    const client = wsClient(production.wsUrl);
    try {
      expect(refusalOf(await wsOperation(client, '{ __schema { types { name } } }'))).toBe('INTROSPECTION_DISABLED');
    } finally {
      await client.dispose();
    }
    expect((await production.graphql('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers introspection when SLUICE_INTROSPECTION=true', async () => {
    const { body } = await introspective.graphql('{ __schema { queryType { name } } }');
    expect(body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it('hides field suggestions, which would map the schema for a stranger', async () => {
    const { body } = await production.graphql('{ viewr { kind } }');
    expect(body.errors[0].message).toContain('Cannot query field "viewr"');
    expect(body.errors[0].message).not.toMatch(/Did you mean/);
    const development = await server.graphql('{ viewr { kind } }');
    expect(development.body.errors[0].message).toMatch(/Did you mean "viewer"\?/);
  });

  it('takes its limits from the environment (SLUICE_MAX_ALIASES=2)', async () => {
    expect(refusalOf((await production.graphql('{ a: viewer { kind } b: viewer { kind } c: viewer { kind } }')).body)).toBe('aliases:2');
    const two = await production.graphql('{ a: viewer { kind } b: viewer { kind } }');
    expect(two.body).toEqual({ data: { a: { kind: 'ANONYMOUS' }, b: { kind: 'ANONYMOUS' } } });
  });
});
