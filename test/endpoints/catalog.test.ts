/**
 * The catalog over the real server: listed, published endpoints of two tenants, the same
 * entries for anonymous, API key and user callers on GraphQL and REST; unlisted and
 * unpublished ones never; search (plain text, case-insensitive), pagination without
 * duplicates, counts equal to what was ingested, no private model detail, the rate limits
 * in force, unpublishing unlists, bad input refused with codes; and the SECURITY DEFINER
 * function the catalog reads through returns public columns of listed rows only, RLS on.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, endpointOver, gql, must, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy } from '../support/policies.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { auditEventsOf } from '../support/audit.js';
import { catalogPaths, catalogSchemas, PROBLEM_DETAILS_REF } from '../../src/routes/openapi/catalog-paths.js';
import { openOrm } from '../../src/db/orm.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { scopesForRole } from '../../src/domains/access/permissions.js';
import { entities } from '../../src/domains/entities.js';
import { createServices } from '../../src/domains/services.js';
import { testServiceDependencies } from '../support/services.js';

const ENTRY_FIELDS = `address name description modelKind retrievalMode tenant { slug name }
  datasets { documentCount chunkCount lastIngestedAt }
  access { credentialRequired rateLimits { per source requests periodSeconds burst rule } }
  health { status lastCheckedAt latencyMs lastError }`;
const CATALOG = `query($search: String, $first: Int, $after: String) {
  catalog(search: $search, first: $first, after: $after) { edges { cursor node { ${ENTRY_FIELDS} } } pageInfo { hasNextPage endCursor } } }`;
const UPDATE = 'mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { published listed } }';
const MODEL_SECRET = 'sk-catalog-secret-7d41c9e2';
const MODEL_NAME = 'private-model-name-5b2f';

let server: TestServer;
let fake: FakeOpenAI;
let a: Tenant;
let b: Tenant;
let apiKey: string;
/** a: listed over two datasets with a rate_limit policy; b: listed on a private model; plus an unlisted and an unpublished one. */
let tides: EndpointSetup & { address: string; chunks: number };
let harbour: EndpointSetup & { address: string };
let unlisted: EndpointSetup & { address: string };
let unpublished: EndpointSetup & { address: string };

async function listedEndpoint(tenant: Tenant, docs: { title: string; text: string }[], input: Record<string, unknown>, model?: Record<string, unknown>) {
  const setup = await endpointOver(server, tenant.token, docs, { published: true, model });
  const data = await must(server, tenant.token, UPDATE, { id: setup.endpointId, input: { listed: true, ...input } });
  expect(data.updateEndpoint).toEqual({ published: true, listed: true });
  return { ...setup, address: setup.reference };
}

beforeAll(async () => {
  server = await startTestServer({
    env: {
      SLUICE_RATE_LIMITS: 'on',
      SLUICE_RATE_LIMIT_PER_SECOND: '400',
      SLUICE_RATE_LIMIT_BURST: '800',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '900',
      SLUICE_IP_RATE_LIMIT_BURST: '1800',
    },
  });
  fake = await startFakeOpenAI();
  [a, b] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  apiKey = (await createApiKey(server, a.token, { name: 'catalog reader', scopes: ['READ'] })).body.data.createApiKey.secret;

  tides = { ...(await listedEndpoint(a, [{ title: 'Tides', text: 'The tide rises twice a day. Harbour gates close at low tide.' }], { name: 'Tide tables', description: 'Zephyrine tide tables, 100% _raw_ data' })), chunks: 0 };
  // A second dataset: the entry sums both.
  const second = await createDataset(server, a.token);
  const job = await ingestInline(server, a.token, second.id, [
    { title: 'Locks', text: 'The lock keeper fills the chamber.' },
    { title: 'Weirs', text: 'A weir holds the river back.' },
  ]);
  expect((await settled(server, a.token, job.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  await must(server, a.token, UPDATE, { id: tides.endpointId, input: { datasetIds: [tides.datasetId, second.id] } });
  await createPolicy(server, a.token, tides.endpointId, 'rate_limit', { requestsPerPeriod: 5, periodSeconds: 60, scope: 'per_user' });
  const datasets = await must(server, a.token, `query($a: ID!, $b: ID!) { a: node(id: $a) { ... on Dataset { chunkCount } } b: node(id: $b) { ... on Dataset { chunkCount } } }`, {
    a: tides.datasetId,
    b: second.id,
  });
  tides.chunks = datasets.a.chunkCount + datasets.b.chunkCount;

  harbour = await listedEndpoint(b, [{ title: 'Harbour', text: 'Boats moor in the harbour.' }], { name: 'Harbour guide' }, {
    name: MODEL_NAME,
    type: 'openai-compatible',
    config: { baseUrl: fake.baseUrl, model: MODEL_NAME },
    apiKey: MODEL_SECRET,
  });
  const hidden = await endpointOver(server, a.token, [{ title: 'Hidden', text: 'Not in the catalog.' }], { published: true });
  unlisted = { ...hidden, address: hidden.reference };
  const draft = await endpointOver(server, b.token, [{ title: 'Draft', text: 'Not published.' }]);
  unpublished = { ...draft, address: draft.reference };
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

type Caller = { token?: string; apiKey?: string };
const headersOf = (caller: Caller): Record<string, string> =>
  caller.token ? { authorization: `Bearer ${caller.token}` } : caller.apiKey ? { 'x-api-key': caller.apiKey } : {};

async function graphqlPage(caller: Caller, variables: Record<string, unknown>) {
  const { body } = await server.graphql(CATALOG, { variables, headers: headersOf(caller) });
  return body;
}

async function restPage(caller: Caller, params: Record<string, string>) {
  const response = await fetch(`${server.baseUrl}/api/v1/endpoints?${new URLSearchParams(params)}`, { headers: headersOf(caller) });
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, text: await response.text() };
}

/** Every entry, walking pages of `first` with the cursor; fails on a duplicate. */
async function walk(caller: Caller, surface: 'graphql' | 'rest', first: number, search?: string) {
  const entries: any[] = [];
  let after: string | undefined;
  for (let page = 0; page < 50; page += 1) {
    let items: any[];
    let info: { hasNextPage: boolean; endCursor: string | null };
    if (surface === 'graphql') {
      const body = await graphqlPage(caller, { first, after, search });
      expect(body.errors).toBeUndefined();
      items = body.data.catalog.edges.map((edge: { node: unknown }) => edge.node);
      info = body.data.catalog.pageInfo;
    } else {
      const response = await restPage(caller, { first: String(first), ...(after ? { after } : {}), ...(search ? { search } : {}) });
      expect(response.status).toBe(200);
      ({ items, pageInfo: info } = JSON.parse(response.text));
    }
    expect(items.length).toBeLessThanOrEqual(first);
    entries.push(...items);
    if (!info.hasNextPage) break;
    after = info.endCursor!;
  }
  const addresses = entries.map((entry) => entry.address);
  expect(new Set(addresses).size).toBe(addresses.length);
  return entries;
}

describe('browsing', () => {
  it('shows the same listed, published entries to anonymous, API key and user callers on GraphQL and REST, never unlisted or unpublished ones', async () => {
    const anonymous = await walk({}, 'graphql', 100);
    expect(anonymous.map((entry) => entry.address)).toEqual([tides.address, harbour.address].sort((x, y) => (x < y ? -1 : 1)));
    for (const caller of [{}, { apiKey }, { token: b.token }]) {
      expect(await walk(caller, 'graphql', 100)).toEqual(anonymous);
      expect(await walk(caller, 'rest', 100)).toEqual(anonymous);
    }
    const addresses = anonymous.map((entry) => entry.address);
    expect(addresses).not.toContain(unlisted.address);
    expect(addresses).not.toContain(unpublished.address);
  });

  it('describes an entry: tenant, counts summed over its datasets, model kind, retrieval mode, credential and rate limits', async () => {
    const [entry] = await walk({}, 'graphql', 100, tides.address);
    expect(entry).toMatchObject({
      address: tides.address,
      tenant: { slug: a.tenant.slug, name: a.tenant.name },
      name: 'Tide tables',
      description: 'Zephyrine tide tables, 100% _raw_ data',
      datasets: { documentCount: 3, chunkCount: tides.chunks },
      modelKind: 'extractive',
      retrievalMode: 'KEYWORD',
    });
    expect(tides.chunks).toBeGreaterThanOrEqual(3);
    expect(Date.parse(entry.datasets.lastIngestedAt)).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(entry.access).toEqual({
      credentialRequired: true,
      rateLimits: [
        { per: 'ADDRESS', source: 'SERVER', requests: 900, periodSeconds: 1, burst: 1800, rule: '900 per 1 s per address (bursts of 1800)' },
        { per: 'CALLER', source: 'SERVER', requests: 400, periodSeconds: 1, burst: 800, rule: '400 per 1 s per caller (bursts of 800)' },
        { per: 'CALLER', source: 'ENDPOINT_POLICY', requests: 5, periodSeconds: 60, burst: null, rule: '5 per 60 s per caller' },
      ],
    });
  });

  it('says when no credential is needed, with the per-address limit anonymous callers meet, and an anonymous caller is answered', async () => {
    // In a tenant of its own, named apart, so the other tests' searches do not meet it.
    const open = await listedEndpoint(await tenantWithOwner(server), [{ title: 'Quay notices', text: 'Quayside notices for everyone.' }], { name: 'Quay notices', allowAnonymous: true });
    const [entry] = await walk({}, 'graphql', 10, open.address);
    expect(entry.address).toBe(open.address);
    expect(entry.access.credentialRequired).toBe(false);
    // SLUICE_ANONYMOUS_QUERIES_PER_MINUTE and SLUICE_ANONYMOUS_QUERY_BURST at their defaults (30, 10).
    expect(entry.access.rateLimits).toContainEqual({ per: 'ADDRESS', source: 'SERVER', requests: 30, periodSeconds: 60, burst: 10, rule: '30 per 60 s per address (anonymous queries, bursts of 10)' });
    const [rest] = await walk({}, 'rest', 10, open.address);
    expect(rest.access).toEqual(entry.access);
    // What the entry promises holds: no credential, an answer.
    const { body } = await server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "quayside notices") { passages { documentTitle } } }', { variables: { e: open.address } });
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.passages[0].documentTitle).toBe('Quay notices');
    // The entries that need a credential still say so.
    const [harbourEntry] = await walk({}, 'graphql', 10, harbour.address);
    expect(harbourEntry.access.credentialRequired).toBe(true);
    expect(harbourEntry.access.rateLimits.some((limit: { rule: string }) => limit.rule.includes('anonymous'))).toBe(false);
  });

  it("shows a caller their own tenant's per-caller limit where it set one", async () => {
    const own = await tenantWithOwner(server);
    await must(server, own.token, 'mutation($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { rateLimitPerSecond } }', {
      input: { rateLimitPerSecond: 7, rateLimitBurst: 9 },
    });
    const [entry] = await walk({ token: own.token }, 'rest', 10, harbour.address);
    expect(entry.access.rateLimits).toContainEqual({ per: 'CALLER', source: 'TENANT_SETTINGS', requests: 7, periodSeconds: 1, burst: 9, rule: '7 per 1 s per caller (bursts of 9)' });
  });

  it("never shows a tenant's private model details", async () => {
    const graphql = JSON.stringify(await graphqlPage({}, { first: 100 }));
    const rest = (await restPage({ token: a.token }, { first: '100' })).text;
    for (const text of [graphql, rest]) {
      expect(text).toContain('"modelKind":"openai-compatible"');
      for (const secret of [MODEL_NAME, MODEL_SECRET, MODEL_SECRET.slice(-4), new URL(fake.baseUrl).host, harbour.modelId, harbour.datasetId, harbour.endpointId]) {
        expect(text).not.toContain(secret);
      }
    }
  });

  it('narrows by search over name, description, tenant and address: plain text, case-insensitive, % and _ literal', async () => {
    const addresses = async (search: string) => (await walk({}, 'graphql', 100, search)).map((entry) => entry.address);
    expect(await addresses('zephyrine')).toEqual([tides.address]);
    expect(await addresses('HARBOUR GUIDE')).toEqual([harbour.address]);
    expect(await addresses(b.tenant.name.toUpperCase())).toEqual([harbour.address]);
    expect(await addresses(harbour.address)).toEqual([harbour.address]);
    expect(await addresses('100%')).toEqual([tides.address]);
    expect(await addresses('_raw_')).toEqual([tides.address]);
    expect(await addresses('%')).toEqual([tides.address]);
    expect(await addresses('no-such-endpoint-anywhere')).toEqual([]);
    expect(await addresses(unlisted.address)).toEqual([]);
    expect((await walk({}, 'rest', 100, 'Zephyrine')).map((entry) => entry.address)).toEqual([tides.address]);
  });

  it('walks every entry a page at a time without duplicates, in address order, on both surfaces', async () => {
    const more = await Promise.all([0, 1].map(() => listedEndpoint(a, [{ title: 'More', text: 'Another listed endpoint.' }], {})));
    const all = (await walk({}, 'graphql', 100)).map((entry) => entry.address);
    expect(all).toEqual(expect.arrayContaining([tides.address, harbour.address, ...more.map((setup) => setup.address)]));
    expect(all).toEqual([...all].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1)));
    expect((await walk({}, 'graphql', 1)).map((entry) => entry.address)).toEqual(all);
    expect((await walk({ apiKey }, 'rest', 2)).map((entry) => entry.address)).toEqual(all);
  });
});

describe('listing', () => {
  it('needs the endpoint published, and unpublishing unlists it (audited)', async () => {
    const setup = await listedEndpoint(a, [{ title: 'Soon gone', text: 'Listed, then unpublished.' }], { name: 'Soon gone' });
    expect((await walk({}, 'graphql', 100)).map((entry) => entry.address)).toContain(setup.address);

    const refused = await gql(server, a.token, UPDATE, { id: setup.endpointId, input: { published: false, listed: true } });
    expect(refused.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOT_PUBLISHED', field: 'listed' });
    const unpublishedNow = await must(server, a.token, UPDATE, { id: setup.endpointId, input: { published: false } });
    expect(unpublishedNow.updateEndpoint).toEqual({ published: false, listed: false });
    expect((await walk({}, 'rest', 100)).map((entry) => entry.address)).not.toContain(setup.address);
    // Publishing again does not list it again: listing is a choice of its own.
    expect((await must(server, a.token, UPDATE, { id: setup.endpointId, input: { published: true } })).updateEndpoint).toEqual({ published: true, listed: false });

    const created = await gql(server, a.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }', {
      input: { name: 'x', slug: uniqueSlug('ep'), datasetIds: [setup.datasetId], modelId: (await createModel(server, a.token, { name: uniqueSlug('m'), type: 'extractive' })).id, listed: true },
    });
    expect(created.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOT_PUBLISHED' });

    // The audit writer is batched: wait for the unlisting itself, not for any update (a's earlier ones are there already).
    const isUnlisting = (event: Record<string, any>) => event.details?.before?.listed === true && event.details?.after?.listed === false;
    const unlisting = (await auditEventsOf(server, a.token, 1, { action: 'config.endpoint.update' }, 10_000, isUnlisting)).find(isUnlisting);
    expect(unlisting?.details).toMatchObject({ before: { published: true, listed: true }, after: { published: false, listed: false } });
  });
});

describe('refusals', () => {
  it('refuses bad input on GraphQL with BAD_USER_INPUT', async () => {
    for (const variables of [{ first: 101 }, { first: -1 }, { after: 'not-a-cursor' }, { after: Buffer.from('["catalog","A B","x"]').toString('base64url') }, { search: 'tide\u0000' }, { search: 'x'.repeat(201) }]) {
      const body = await graphqlPage({}, variables);
      expect({ variables, code: body.errors?.[0]?.extensions?.code }).toEqual({ variables, code: 'BAD_USER_INPUT' });
    }
  });

  it('answers bad REST requests with RFC 9457 problem details', async () => {
    const cases: [Record<string, string>, number, string][] = [
      [{ first: '101' }, 400, 'BAD_USER_INPUT'],
      [{ first: 'ten' }, 400, 'BAD_USER_INPUT'],
      [{ after: 'not-a-cursor' }, 400, 'BAD_USER_INPUT'],
      [{ search: 'tide\u0000' }, 400, 'BAD_USER_INPUT'],
      [{ serach: 'tide' }, 400, 'BAD_USER_INPUT'],
    ];
    for (const [params, status, code] of cases) {
      const response = await restPage({}, params);
      const problem = JSON.parse(response.text);
      expect({ params, status: response.status, type: response.type, code: problem.code }).toEqual({ params, status, type: 'application/problem+json; charset=utf-8', code });
      expect(problem).toMatchObject({ type: `urn:sluice:error:${code}`, title: code, status, detail: expect.any(String), requestId: expect.any(String) });
    }
    const badKey = await restPage({ token: 'not-a-valid-token' }, {});
    expect(badKey.status).toBe(401);
    expect(badKey.headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(badKey.text).code).toBe('UNAUTHENTICATED');
    const post = await fetch(`${server.baseUrl}/api/v1/endpoints`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET']);
    expect(await post.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED', status: 405 });
  });

  it('audits each REST request on the caller’s chain', async () => {
    await restPage({ token: b.token }, { search: 'harbour' });
    const events = await auditEventsOf(server, b.token, 1, { action: 'rest.catalog' });
    expect(events.at(-1)).toMatchObject({ action: 'rest.catalog', outcome: 'ok', actorKind: 'user' });
    expect(JSON.stringify(events)).not.toContain('harbour');
  });
});

describe('the OpenAPI description', () => {
  it('is valid OpenAPI 3.1 (a maintained validator says so) and describes the answers the route really gives', async () => {
    // What the openapi.json composer (feat/rest) provides around the catalog's path item.
    const problemName = PROBLEM_DETAILS_REF.split('/').at(-1)!;
    const document = {
      openapi: '3.1.0',
      info: { title: 'Sluice', version: 'test' },
      paths: catalogPaths,
      components: {
        schemas: { ...catalogSchemas, [problemName]: { type: 'object', required: ['type', 'title', 'status', 'code'], properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string' } } } },
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' }, apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      },
    };
    const result = await new Validator().validate(structuredClone(document) as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);

    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'https://sluice.test/openapi.json', components: document.components });
    const page = ajv.compile({ $ref: 'https://sluice.test/openapi.json#/components/schemas/CatalogPage' });
    const problem = ajv.compile({ $ref: `https://sluice.test/openapi.json#/components/schemas/${problemName}` });
    for (const caller of [{}, { token: a.token }]) {
      const body = JSON.parse((await restPage(caller, { first: '2' })).text);
      expect({ valid: page(body), errors: page.errors }).toEqual({ valid: true, errors: null });
    }
    const refused = JSON.parse((await restPage({}, { first: '500' })).text);
    expect({ valid: problem(refused), errors: problem.errors }).toEqual({ valid: true, errors: null });
  });
});

describe('statements', () => {
  it('reads a page of 1 or of every entry in the same statements: the catalog function, and the caller tenant’s limits', async () => {
    const statements: string[] = [];
    const orm = await openOrm({ clientUrl: server.database.appUrl, entities, onQuery: (sql) => statements.push(sql) });
    try {
      const owner = a.tenant.users[0]!;
      const actor = { kind: 'user' as const, userId: owner.id, email: owner.email, tenantId: a.tenant.id, tenantSlug: a.tenant.slug, role: 'OWNER' as const, scopes: scopesForRole('OWNER'), sessionId: null };
      const deps = { ...(await testServiceDependencies(orm)), requestLimits: { perIp: { perSecond: 9, burst: 18 }, perPrincipal: { perSecond: 4, burst: 8 } } };
      const counted = async (first: number) => {
        const scope = TenantScope.open(orm, actor);
        try {
          statements.length = 0;
          const page = await scope.transaction({ readOnly: true }, () => createServices({ actor, scope, deps }).catalog.browse({ first }));
          return { entries: page.items.length, statements: statements.filter((sql) => /^\[query\] select\b/i.test(sql) && !sql.includes('set_config')).length };
        } finally {
          scope.close();
        }
      };
      const one = await counted(1);
      const all = await counted(100);
      expect(one.entries).toBe(1);
      expect(all.entries).toBeGreaterThan(1);
      expect(all.statements).toBe(one.statements);
      expect(one.statements).toBeLessThanOrEqual(2);
    } finally {
      await orm.close(true);
    }
  });
});

describe('the catalog function', () => {
  it('is SECURITY DEFINER with a pinned search_path, not PUBLIC, and gives the app role listed rows only while RLS stays on', async () => {
    const client = new pg.Client({ connectionString: server.database.appUrl });
    await client.connect();
    try {
      const { rows: functions } = await client.query(`select p.prosecdef as definer, p.proconfig as config, has_function_privilege('public', p.oid, 'execute') as public
                                                         from pg_proc p where p.proname = 'catalog_entries'`);
      expect(functions).toEqual([{ definer: true, config: ['search_path=public, pg_temp'], public: false }]);
      const { rows } = await client.query('select * from catalog_entries(null, null, null, 1000)');
      const addresses = rows.map((row) => `${row.tenant_slug}/${row.endpoint_slug}`);
      expect(addresses).toContain(tides.address);
      expect(addresses).not.toContain(unlisted.address);
      expect(addresses).not.toContain(unpublished.address);
      expect(rows.length).toBeLessThanOrEqual(101);
      expect(Object.keys(rows[0]).sort()).toEqual(
        ['allow_anonymous', 'chunk_count', 'description', 'document_count', 'endpoint_id', 'endpoint_slug', 'last_ingested_at', 'model_kind', 'name', 'rate_limit_policies', 'retrieval_mode', 'tenant_name', 'tenant_slug'].sort(),
      );
      // Outside the function, no tenant bound: RLS shows nothing.
      for (const table of ['endpoints', 'models', 'datasets', 'policies']) {
        expect({ table, rows: (await client.query(`select count(*)::int as n from ${table}`)).rows[0].n }).toEqual({ table, rows: 0 });
      }
    } finally {
      await client.end();
    }
  });
});
