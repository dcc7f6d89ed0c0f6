/**
 * NUL (U+0000) in anything a caller sends is BAD_USER_INPUT before anything runs, by one rule
 * for every argument (src/plugins/unstorable-text-refusal.ts) and the same rule on the REST doors: as a
 * variable and as a literal, over HTTP and graphql-ws, in upload file names, the REST login
 * and the audit export's query parameters. It used to reach PostgreSQL and come back as
 * INTERNAL (500), with the SQL in development. Nothing is written.
 */
import { createClient } from 'graphql-ws';
import { beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestFiles, serverWithOwner, type Tenant } from '../support/ingestion.js';
import type { TestServer } from '../support/server.js';

const NUL = '\u0000';

const context = serverWithOwner();
let server: TestServer;
let acme: Tenant;
beforeEach(() => {
  ({ server, owner: acme } = context);
});

const rowsOf = (table: string) =>
  withClient(server.database.ownerUrl, async (client) => Number((await client.query(`select count(*) from ${table} where tenant_id = $1`, [acme.tenant.id])).rows[0].count));

/** The refusal every case must get: BAD_USER_INPUT naming the argument, 400 for graphql-response+json. */
function expectRefused(response: { status: number; body: any }, path: (string | number)[]) {
  expect(response.body.errors).toHaveLength(1);
  const [error] = response.body.errors;
  expect({ status: response.status, code: error.extensions?.code, path: error.extensions?.issues?.[0]?.path }).toEqual({ status: 400, code: 'BAD_USER_INPUT', path });
  expect(error.message).toContain('NUL');
  expect(response.body.data ?? null).toBeNull();
}

describe('a NUL byte in a GraphQL argument', () => {
  const cases: { what: string; variables: [string, Record<string, unknown>, (string | number)[]]; literal: [string, (string | number)[]] }[] = [
    {
      what: 'a dataset name',
      variables: ['mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', { input: { name: `Hand${NUL}book`, slug: 'nul-name' } }, ['$input', 'name']],
      literal: [`mutation { createDataset(input: { name: "Hand\\u0000book", slug: "nul-name" }) { id } }`, ['createDataset', 'input', 'name']],
    },
    {
      what: 'a slug',
      variables: ['query($slug: String) { dataset(slug: $slug) { id } }', { slug: `a${NUL}b` }, ['$slug']],
      literal: ['{ dataset(slug: "a\\u0000b") { id } }', ['dataset', 'slug']],
    },
    {
      what: 'nameContains',
      variables: ['query($n: String) { datasets(nameContains: $n) { edges { node { id } } } }', { n: NUL }, ['$n']],
      literal: ['{ datasets(nameContains: "\\u0000") { edges { node { id } } } }', ['datasets', 'nameContains']],
    },
    {
      what: 'an audit filter',
      variables: ['query($f: AuditEventFilter) { auditEvents(filter: $f) { events { id } } }', { f: { action: `dataset.${NUL}` } }, ['$f', 'action']],
      literal: ['{ auditEvents(filter: { outcome: "\\u0000" }) { events { id } } }', ['auditEvents', 'filter', 'outcome']],
    },
    {
      what: 'the logIn email',
      variables: ['mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }', { input: { email: `ann${NUL}@example.test`, password: 'whatever it is' } }, ['$input', 'email']],
      literal: ['mutation { logIn(input: { email: "ann\\u0000@example.test", password: "whatever it is" }) { accessToken } }', ['logIn', 'input', 'email']],
    },
    {
      what: 'a key inside a JSON object',
      variables: [
        'mutation($d: ID!, $docs: [InlineDocumentInput!]) { ingestDocuments(datasetId: $d, documents: $docs) { id } }',
        { d: 'RGF0YXNldDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=', docs: [{ title: 'ok', text: 'fine', metadata: { [`k${NUL}`]: 1 } }] },
        ['$docs', 0, 'metadata', `k${NUL}`],
      ],
      literal: ['mutation { ingestDocuments(datasetId: "x", documents: [{ title: "ok", text: "fi\\u0000ne" }]) { id } }', ['ingestDocuments', 'documents', 'text']],
    },
  ];

  for (const { what, variables, literal } of cases) {
    it(`in ${what} is refused as a variable and as a literal`, async () => {
      const [query, values, variablePath] = variables;
      expectRefused(await server.graphql(query, { token: acme.token, variables: values }), variablePath);
      expectRefused(await server.graphql(literal[0], { token: acme.token }), literal[1]);
    });
  }

  it('is 200 with the same code for a legacy application/json client', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${acme.token}` },
      body: JSON.stringify({ query: 'query($n: String) { datasets(nameContains: $n) { edges { node { id } } } }', variables: { n: NUL } }),
    });
    expect(response.status).toBe(200);
    expect((await response.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('writes nothing: no dataset is created', async () => {
    const before = await rowsOf('datasets');
    await server.graphql('mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', {
      token: acme.token,
      variables: { input: { name: 'Fine', slug: 'nul-description', description: `a${NUL}` } },
    });
    expect(await rowsOf('datasets')).toBe(before);
  });

  it('in an uploaded file name is refused, and no job is queued', async () => {
    const dataset = await createDataset(server, acme.token);
    const before = await rowsOf('ingestion_jobs');
    const response = await ingestFiles(server, acme.token, dataset.id, [
      { name: 'fine.txt', content: 'fine' },
      { name: `evil${NUL}.txt`, content: 'evil' },
    ]);
    expect({ status: response.status, code: response.body.errors?.[0]?.extensions?.code, path: response.body.errors?.[0]?.extensions?.issues?.[0]?.path }).toEqual({
      status: 200,
      code: 'BAD_USER_INPUT',
      path: ['$files', 1, 'name'],
    });
    expect(await rowsOf('ingestion_jobs')).toBe(before);
  });

  it('in subscription arguments over graphql-ws is refused, as a variable and as a literal', async () => {
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${acme.token}` } });
    const firstAnswer = async (payload: { query: string; variables?: Record<string, unknown> }) => {
      try {
        for await (const result of client.iterate(payload)) return result.errors;
      } catch (errors) {
        return errors as any[];
      }
      return undefined;
    };
    try {
      const asVariable = await firstAnswer({
        query: 'subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { __typename } }',
        variables: { e: `${acme.tenant.slug}/x${NUL}`, q: 'lock keeper' },
      });
      expect(asVariable?.map((error: any) => [error.extensions?.code, error.extensions?.issues?.[0]?.path])).toEqual([['BAD_USER_INPUT', ['$e']]]);
      const asLiteral = await firstAnswer({ query: `subscription { endpointQuery(endpoint: "${acme.tenant.slug}/x", query: "lock\\u0000") { __typename } }` });
      expect(asLiteral?.map((error: any) => [error.extensions?.code, error.extensions?.issues?.[0]?.path])).toEqual([['BAD_USER_INPUT', ['endpointQuery', 'query']]]);
    } finally {
      await client.dispose();
    }
  });
});

describe('a NUL byte in graphql-ws connection parameters', () => {
  it('is refused as BAD_USER_INPUT before the credential is looked at', async () => {
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${acme.token}`, tenant: `${acme.tenant.slug}${NUL}` },
    });
    try {
      const errors = await (async () => {
        try {
          for await (const result of client.iterate({ query: 'subscription { heartbeat(count: 1) { __typename } }' })) return result.errors;
        } catch (caught) {
          return caught as any[];
        }
        return undefined;
      })();
      expect(errors?.map((error: any) => [error.extensions?.code, error.message])).toEqual([['BAD_USER_INPUT', expect.stringContaining('connection parameter "tenant" contains a NUL')]]);
    } finally {
      await client.dispose();
    }
  });
});

describe('a NUL byte on the REST doors', () => {
  it('in the REST login email is 400 BAD_USER_INPUT', async () => {
    const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `ann${NUL}@example.test`, password: 'whatever it is' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', code: 'BAD_USER_INPUT', error_description: expect.stringContaining('"email"') });
  });

  it('in an audit export query parameter is 400 BAD_USER_INPUT', async () => {
    for (const query of ['action=%00', 'actor=a%00b', 'outcome=%00', 'from=2026-01-01T00:00:00Z%00']) {
      const response = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl?${query}`, { headers: { authorization: `Bearer ${acme.token}` } });
      expect({ query, status: response.status, code: (await response.json()).errors?.[0]?.extensions?.code }).toEqual({ query, status: 400, code: 'BAD_USER_INPUT' });
    }
  });
});

/**
 * Half a surrogate pair (JSON's `"\ud83d"` alone) is refused by the same rule: PostgreSQL
 * refuses it in jsonb and json_to_recordset (22P02), and stores it in text as U+FFFD, changed.
 * Before, an inline document's text with one was accepted, and its job failed at the chunk
 * INSERT, attempt after attempt; a name was stored with U+FFFD in its place.
 */
describe('half a surrogate pair in what a caller sends', () => {
  const HALF = '\ud83d';

  it('is refused in variables, plain arguments and document text alike, and by the parser in a literal', async () => {
    expectRefused(
      await server.graphql('mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', { token: acme.token, variables: { input: { name: `Hand${HALF}book`, slug: 'half-name' } } }),
      ['$input', 'name'],
    );
    // In a literal, GraphQL's own parser refuses the escape first (graphql-js 16: "Invalid Unicode escape sequence").
    const literal = await server.graphql('mutation { createDataset(input: { name: "Hand\\ud83dbook", slug: "half-name" }) { id } }', { token: acme.token });
    expect({ status: literal.status, code: literal.body.errors?.[0]?.extensions?.code }).toEqual({ status: 400, code: 'GRAPHQL_PARSE_FAILED' });
    const dataset = await createDataset(server, acme.token);
    expectRefused(
      await server.graphql('mutation($d: ID!, $docs: [InlineDocumentInput!]) { ingestDocuments(datasetId: $d, documents: $docs) { id } }', {
        token: acme.token,
        variables: { d: dataset.id, docs: [{ title: 'ok', text: `a low half alone ${'\udc00'} here` }] },
      }),
      ['$docs', 0, 'text'],
    );
    // A whole pair is a character like any other.
    const whole = await server.graphql('mutation($input: CreateDatasetInput!) { createDataset(input: $input) { name } }', { token: acme.token, variables: { input: { name: 'Hand😀book', slug: 'whole-pair' } } });
    expect(whole.body).toEqual({ data: { createDataset: { name: 'Hand😀book' } } });
  });

  it('in the REST login email is 400 BAD_USER_INPUT', async () => {
    const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `ann${HALF}@example.test`, password: 'whatever it is' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'BAD_USER_INPUT', error_description: expect.stringContaining('surrogate') });
  });
});
