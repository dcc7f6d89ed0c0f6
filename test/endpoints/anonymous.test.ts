/**
 * Who may ask without a credential (issue 20, items 1 and 6): anonymous queries on endpoints
 * that allow them, over HTTP and the subscription; UNAUTHENTICATED where a published endpoint
 * does not, NOT_FOUND where the endpoint is not published or not there; the per-address limit;
 * anonymous callers in usage and the decision log; the endpoint's policies applied to them;
 * and refusals met before any resolver (the per-caller limit) in the decision log.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, EVENT_FIELDS, must, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { withClient } from '../../src/db/bootstrap.js';
import { AuditLog } from '../../src/domains/audit/audit-log.js';
import { Authenticator } from '../../src/domains/identity/authenticator.js';
import { CredentialStore } from '../../src/domains/identity/credential-store.js';
import { ExternalTokenVerifier } from '../../src/domains/identity/external-tokens.js';
import { IpAllowListCheck } from '../../src/domains/tenancy/ip-allow-check.js';
import { useCredentialWatch } from '../../src/plugins/credential-watch.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { MemoryBucketStore } from '../../src/platform/rate-limits/memory-buckets.js';
import { PrincipalLimit } from '../../src/platform/rate-limits/principal-limit.js';
import { ConsumerDoor } from '../../src/routes/consumer-door.js';
import { auditEventsOf } from '../support/audit.js';
import { testServiceDependencies } from '../support/services.js';
import { createPolicy, manualClock } from '../support/policies.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const ANONYMOUS = '';
const DECISION_FIELDS = 'decision policyType rule reasonCode reason retryAfterSeconds callerTenantId callerKind callerId verdicts';
// The clock only moves when told: the per-address bucket refills exactly as the test says.
const clock = manualClock();

let server: TestServer;
let acme: SeededTenant;
let rival: SeededTenant;
let owner: string;
let rivalOwner: string;
let rivalViewer: string;

beforeAll(async () => {
  server = await startTestServer({
    clock,
    env: {
      // Three anonymous queries at once per address and endpoint, one more a minute.
      SLUICE_ANONYMOUS_QUERY_BURST: '3',
      SLUICE_ANONYMOUS_QUERIES_PER_MINUTE: '1',
      // One proxy in front: X-Forwarded-For names the client, so a test can be another address.
      SLUICE_TRUST_PROXY: '1',
      // Request limits on, for the per-caller refusal; generous defaults so only the tenant
      // override below ever refuses (the clock does not move, so buckets do not refill).
      SLUICE_RATE_LIMITS: 'on',
      SLUICE_RATE_LIMIT_PER_SECOND: '100000',
      SLUICE_RATE_LIMIT_BURST: '1000000',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '100000',
      SLUICE_IP_RATE_LIMIT_BURST: '1000000',
    },
  });
  acme = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }] });
  rival = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'VIEWER' }] });
  owner = await server.tokenFor(acme, acme.users[0]!);
  rivalOwner = await server.tokenFor(rival, rival.users[0]!);
  rivalViewer = await server.tokenFor(rival, rival.users[1]!);
});
afterAll(async () => {
  await server?.close();
});

/** An endpoint of acme's, published unless told, and open to anonymous callers when asked. */
async function acmeEndpoint(options: { published?: boolean; allowAnonymous?: boolean } = {}): Promise<EndpointSetup> {
  const setup = await endpointOver(server, owner, DOCS, { published: options.published ?? true });
  if (options.allowAnonymous) {
    const data = await must(server, owner, 'mutation($id: ID!, $i: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $i) { allowAnonymous published } }', {
      id: setup.endpointId,
      i: { allowAnonymous: true },
    });
    expect(data.updateEndpoint).toEqual({ allowAnonymous: true, published: options.published ?? true });
  }
  return setup;
}

/** An anonymous query over HTTP, from the server's own address or `from` (X-Forwarded-For). */
async function askAnonymously(reference: string, from?: string, query = 'lock keeper') {
  const response = await server.graphql(
    'query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) { answer passages { documentTitle } usage { totalTokens } } }',
    { variables: { e: reference, q: query }, headers: from ? { 'x-forwarded-for': from } : {} },
  );
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: response.body };
}

async function decisionsOf(endpointId: string) {
  const data = await must(server, owner, `query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { ${DECISION_FIELDS} } } } }`, {
    f: { endpointId },
  });
  return data.policyDecisions.edges.map((edge: { node: Record<string, unknown> }) => edge.node);
}

describe('anonymous callers', () => {
  it('ask an endpoint that allows them over HTTP GraphQL; the setting is on Endpoint and audited', async () => {
    const setup = await acmeEndpoint({ allowAnonymous: true });
    const asked = await askAnonymously(setup.reference);
    expect(asked.status).toBe(200);
    expect(asked.body.errors).toBeUndefined();
    expect(asked.body.data.queryEndpoint.passages).toEqual([{ documentTitle: 'Locks' }]);
    expect(asked.body.data.queryEndpoint.answer).toContain('lock keeper');

    // Changing it is a configuration change on the owner's audit trail, before and after.
    const updates = await auditEventsOf(server, owner, 1, { action: 'config.endpoint.update' });
    expect(JSON.stringify(updates.map((event) => event.details))).toMatch(/allowAnonymous/);
  });

  it('ask it over the endpointQuery subscription (graphql-ws, no connection credential)', async () => {
    const setup = await acmeEndpoint({ allowAnonymous: true });
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    const results: any[] = [];
    try {
      for await (const result of client.iterate({
        query: `subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { ${EVENT_FIELDS} } }`,
        variables: { e: setup.reference, q: 'lock keeper' },
      })) {
        results.push(result);
        if (result.errors) break;
      }
    } finally {
      await client.dispose();
    }
    expect(results.filter((result) => result.errors)).toEqual([]);
    const kinds = results.map((result) => result.data.endpointQuery.__typename);
    expect(kinds[0]).toBe('EndpointQueryRetrieved');
    expect(kinds.at(-1)).toBe('EndpointQueryCompleted');
  });

  it('are refused UNAUTHENTICATED (ANONYMOUS_NOT_ALLOWED) by a published endpoint that does not allow them, and it is in the decision log', async () => {
    const setup = await acmeEndpoint();
    const asked = await askAnonymously(setup.reference);
    expect(asked.status).toBe(401);
    expect(asked.body.errors[0].message).toMatch(/sign in or use an API key/);
    expect(asked.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'ANONYMOUS_NOT_ALLOWED' });
    const [decision, ...more] = await decisionsOf(setup.endpointId);
    expect(more).toEqual([]);
    expect(decision).toEqual({
      decision: 'DENY',
      policyType: null,
      rule: 'allowAnonymous: false',
      reasonCode: 'ANONYMOUS_NOT_ALLOWED',
      reason: 'This endpoint does not admit anonymous callers: sign in or use an API key',
      retryAfterSeconds: null,
      callerTenantId: null,
      callerKind: 'anonymous',
      callerId: expect.stringMatching(/^[0-9a-f]{32}$/),
      verdicts: [],
    });
  });

  it('get NOT_FOUND for an unpublished endpoint (even one allowing anonymous callers), a missing one and another tenant’s, with nothing logged', async () => {
    const unpublished = await acmeEndpoint({ published: false, allowAnonymous: true });
    const rivalsOwn = await endpointOver(server, rivalOwner, DOCS, { published: false });
    for (const reference of [unpublished.reference, rivalsOwn.reference, `${acme.slug}/${uniqueSlug('missing')}`]) {
      const asked = await askAnonymously(reference);
      expect({ reference, code: asked.body.errors?.[0]?.extensions?.code, data: asked.body.data }).toEqual({ reference, code: 'NOT_FOUND', data: null });
    }
    expect(await decisionsOf(unpublished.endpointId)).toEqual([]);
  });

  it('fall under the per-address limit: RATE_LIMITED with Retry-After after 3, per address and endpoint, logged with its rule, free again as it refills', async () => {
    const setup = await acmeEndpoint({ allowAnonymous: true });
    const other = await acmeEndpoint({ allowAnonymous: true });
    for (let i = 0; i < 3; i += 1) expect((await askAnonymously(setup.reference, '203.0.113.7')).body.errors).toBeUndefined();
    const refused = await askAnonymously(setup.reference, '203.0.113.7');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('60');
    expect(refused.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', reason: 'ADDRESS_RATE_LIMIT', retryAfterSeconds: 60 });
    // Another address, and the same address on another endpoint, are still served.
    expect((await askAnonymously(setup.reference, '198.51.100.20')).body.errors).toBeUndefined();
    expect((await askAnonymously(other.reference, '203.0.113.7')).body.errors).toBeUndefined();
    // An IPv6 /64 is one address: a neighbour in the same /64 shares its bucket.
    for (let i = 0; i < 3; i += 1) expect((await askAnonymously(setup.reference, '2001:db8:1:2::1')).body.errors).toBeUndefined();
    expect((await askAnonymously(setup.reference, '2001:db8:1:2::ffff')).status).toBe(429);

    const denials = (await decisionsOf(setup.endpointId)).filter((decision: any) => decision.decision === 'DENY');
    expect(denials).toHaveLength(2);
    expect(denials[0]).toMatchObject({
      rule: 'anonymous: 3 at once, 1 per minute per address',
      reasonCode: 'ADDRESS_RATE_LIMIT',
      retryAfterSeconds: 60,
      callerKind: 'anonymous',
      callerTenantId: null,
    });
    clock.advance(60);
    expect((await askAnonymously(setup.reference, '203.0.113.7')).body.errors).toBeUndefined();
  });

  it('are counted in usage as anonymous, one caller per address, never by the address itself', async () => {
    const setup = await acmeEndpoint({ allowAnonymous: true });
    // Past the earlier tests' queries (the clock stands still unless moved).
    clock.advance(1);
    const from = clock.now().toISOString();
    for (const address of ['192.0.2.10', '192.0.2.10', '192.0.2.11']) expect((await askAnonymously(setup.reference, address)).body.errors).toBeUndefined();
    const usage = await must(server, owner, 'query($r: TimeRangeInput) { usage(range: $r, groupBy: CALLER) { key queries } }', { r: { from } });
    const anonymous = usage.usage.filter((row: { key: string }) => row.key.startsWith('anonymous:'));
    expect(anonymous.map((row: { queries: number }) => row.queries).sort()).toEqual([1, 2]);
    for (const row of anonymous) expect(row.key).toMatch(/^anonymous:[0-9a-f]{32}$/);
    expect(JSON.stringify(usage)).not.toContain('192.0.2');
  });
});

describe('the endpoint’s policies apply to anonymous callers', () => {
  it('a content guard refuses an anonymous caller and the decision log shows the rule', async () => {
    const setup = await acmeEndpoint({ allowAnonymous: true });
    await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxUrls: 0 });
    const asked = await askAnonymously(setup.reference, undefined, 'lock keeper https://example.com');
    expect(asked.body.errors[0].extensions).toMatchObject({ code: 'POLICY_DENIED', reason: 'CONTENT_URLS' });
    const [decision] = await decisionsOf(setup.endpointId);
    expect(decision).toMatchObject({ decision: 'DENY', policyType: 'content_guard', rule: 'content_urls', reasonCode: 'CONTENT_URLS', callerKind: 'anonymous', callerTenantId: null });
  });

  it('an access policy denying `anonymous` wins over one allowing it; an allow list without it refuses them; signed-in callers are unaffected', async () => {
    const setup = await acmeEndpoint({ allowAnonymous: true });
    await createPolicy(server, owner, setup.endpointId, 'access', { mode: 'allow', patterns: ['*@*', 'Anonymous'] });
    expect((await askAnonymously(setup.reference)).body.errors).toBeUndefined();
    const deny = await createPolicy(server, owner, setup.endpointId, 'access', { mode: 'deny', patterns: ['anonymous'] });
    expect(deny.configuration).toEqual({ mode: 'deny', patterns: ['anonymous'] });
    const refused = await askAnonymously(setup.reference);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'POLICY_DENIED', reason: 'ACCESS_DENIED' });
    expect((await queryEndpoint(server, owner, setup.reference, 'lock keeper', undefined, 'answer')).errors).toBeUndefined();
    const denials = (await decisionsOf(setup.endpointId)).filter((decision: any) => decision.decision === 'DENY');
    expect(denials).toEqual([expect.objectContaining({ policyType: 'access', rule: 'deny anonymous', reasonCode: 'ACCESS_DENIED', callerKind: 'anonymous' })]);

    const listed = await acmeEndpoint({ allowAnonymous: true });
    await createPolicy(server, owner, listed.endpointId, 'access', { mode: 'allow', patterns: ['*@*'] });
    expect((await askAnonymously(listed.reference)).body.errors[0].extensions).toMatchObject({ code: 'POLICY_DENIED', reason: 'NOT_ALLOWED' });
    const bad = await must(server, owner, 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }', {
      i: { endpointId: listed.endpointId, type: 'access', configuration: { mode: 'deny', patterns: ['nobody'] } },
    }).catch((error: Error) => error.message);
    expect(bad).toMatch(/BAD_USER_INPUT/);
  });
});

describe('refusals before any resolver, in the decision log', () => {
  it('the per-caller limit refusing an OpenAI chat or an MCP request is recorded in the decision log of the endpoint it names', async () => {
    const published = await acmeEndpoint();
    const partner = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }] });
    const partnerToken = await server.tokenFor(partner, partner.users[0]!);
    await must(server, partnerToken, 'mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: 1 }) { rateLimitBurst } }');
    const chat = () =>
      fetch(`${server.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${partnerToken}` },
        body: JSON.stringify({ model: published.reference, messages: [{ role: 'user', content: 'lock keeper' }] }),
      });
    // The clock does not move: one request, then the bucket is empty for every surface.
    expect((await chat()).status).toBe(200);
    const refused = await chat();
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.code).toBe('RATE_LIMITED');
    const mcp = await fetch(`${server.baseUrl}/mcp/${published.reference}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${partnerToken}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } } }),
    });
    expect(mcp.status).toBe(429);
    const denials = (await decisionsOf(published.endpointId)).filter((decision: any) => decision.decision === 'DENY');
    expect(denials).toHaveLength(2);
    for (const denial of denials) {
      expect(denial).toMatchObject({ reasonCode: 'CALLER_RATE_LIMIT', rule: 'caller: 1 at once, 1 per second', callerTenantId: partner.id, callerKind: 'user' });
    }
  });

  it('the per-caller limit refusing a GraphQL query is recorded as CALLER_RATE_LIMIT with its rule, only where the caller could reach the endpoint', async () => {
    const published = await acmeEndpoint();
    const unpublished = await acmeEndpoint({ published: false });
    await must(server, rivalOwner, 'mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: 2 }) { rateLimitBurst } }');
    expect((await queryEndpoint(server, rivalViewer, published.reference, 'lock keeper', undefined, 'answer')).errors).toBeUndefined();
    expect((await queryEndpoint(server, rivalViewer, published.reference, 'lock keeper', undefined, 'answer')).errors).toBeUndefined();
    const refused = await queryEndpoint(server, rivalViewer, published.reference, 'lock keeper', undefined, 'answer');
    expect(refused.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect((await queryEndpoint(server, rivalViewer, unpublished.reference, 'lock keeper', undefined, 'answer')).errors[0].extensions.code).toBe('RATE_LIMITED');

    const denials = (await decisionsOf(published.endpointId)).filter((decision: any) => decision.decision === 'DENY');
    expect(denials).toEqual([
      {
        decision: 'DENY',
        policyType: null,
        rule: 'caller: 2 at once, 1 per second',
        reasonCode: 'CALLER_RATE_LIMIT',
        reason: expect.stringMatching(/^Too many requests/),
        retryAfterSeconds: expect.any(Number),
        callerTenantId: rival.id,
        callerKind: 'user',
        callerId: rival.users[1]!.id,
        verdicts: [],
      },
    ]);
    // The unpublished endpoint is NOT_FOUND to the rival: nothing written in acme's log for it.
    expect(await decisionsOf(unpublished.endpointId)).toEqual([]);
  });

  it('the caller tenant’s IP allow-list refusing a GraphQL query is recorded as IP_NOT_ALLOWED', async () => {
    const published = await acmeEndpoint();
    const partner = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }] });
    const partnerOwner = await server.tokenFor(partner, partner.users[0]!);
    // Set in the database before the partner's first request: the check caches a tenant's
    // list for 5 s, and updateTenantSettings would itself have to come from inside the list.
    await withClient(server.database.ownerUrl, (client) => client.query("update tenants set ip_allow_list = '{10.0.0.0/8}' where id = $1", [partner.id]));
    const refused = await queryEndpoint(server, partnerOwner, published.reference, 'lock keeper', undefined, 'answer');
    expect(refused.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'IP_NOT_ALLOWED' });
    expect(await decisionsOf(published.endpointId)).toEqual([
      expect.objectContaining({ decision: 'DENY', rule: 'the caller tenant’s IP allow-list', reasonCode: 'IP_NOT_ALLOWED', callerTenantId: partner.id, callerKind: 'user' }),
    ]);
  });
});

describe('the consumer door (REST, OpenAI-compatible and MCP routes open it)', () => {
  it('records a per-caller refusal in the decision log of the endpoint the route names, only where the caller could reach it', async () => {
    const published = await acmeEndpoint();
    const unpublished = await acmeEndpoint({ published: false });
    const partner = await seedTenant(server.database.ownerUrl, { members: [{ role: 'VIEWER' }] });
    const partnerViewer = await server.tokenFor(partner, partner.users[0]!);
    // The door as plugin-list.ts builds it, from real parts, with a per-caller limit of one request.
    const logger = createLogger({ level: 'silent' });
    const secrets = secretsOf(server);
    const audit = new AuditLog({ orm: server.orm, secrets, logger });
    const credentials = new CredentialStore(server.orm);
    const authenticator = new Authenticator(server.tokens, credentials, new ExternalTokenVerifier(credentials, { egress: server.config.egress.privateNetworks }));
    const ipAllowList = new IpAllowListCheck();
    const credentialWatch = useCredentialWatch({ authenticator, ipAllowList });
    const door = new ConsumerDoor({
      orm: server.orm,
      deps: { ...(await testServiceDependencies(server.orm)), secrets, audit },
      authenticator,
      audit,
      logger,
      trustProxyHops: 0,
      principalLimit: new PrincipalLimit({ buckets: new MemoryBucketStore(), rule: { perSecond: 0.001, burst: 1 }, onOverrideError: () => undefined }),
      ipAllowList,
      credentialWatch,
    });
    const open = (endpointRef: string) =>
      door.open({ request: new Request('http://sluice.test/api/v1/query', { headers: { authorization: `Bearer ${partnerViewer}` } }), serverContext: undefined, action: 'rest.query', endpointRef });
    try {
      (await open(published.reference)).finish('ok');
      await expect(open(published.reference)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await expect(open(unpublished.reference)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      credentialWatch.dispose();
      await audit.close();
    }
    expect(await decisionsOf(published.endpointId)).toEqual([
      expect.objectContaining({ decision: 'DENY', rule: 'caller: 1 at once, 0.001 per second', reasonCode: 'CALLER_RATE_LIMIT', callerTenantId: partner.id, callerKind: 'user' }),
    ]);
    expect(await decisionsOf(unpublished.endpointId)).toEqual([]);
  });
});

