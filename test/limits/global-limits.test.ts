/**
 * Global rate limits over the real server: a token bucket per principal (with the tenant's
 * override) and per client address, over HTTP and graphql-ws. The in-process buckets run on a
 * clock the test moves, so refills are exact and nothing sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp, ManualClock, wsClient, wsOperation } from './support.js';

const VIEWER = '{ viewer { kind user { email } } }';
const SETTINGS = `mutation($input: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $input) { rateLimitPerSecond rateLimitBurst name }
}`;

const clock = new ManualClock();
let server: TestServer;
let tenantA: SeededTenant;
let tenantB: SeededTenant;

beforeAll(async () => {
  server = await startTestServer({
    clock,
    env: {
      SLUICE_RATE_LIMITS: 'on',
      SLUICE_RATE_LIMIT_PER_SECOND: '1',
      SLUICE_RATE_LIMIT_BURST: '3',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '1',
      SLUICE_IP_RATE_LIMIT_BURST: '10',
      SLUICE_TRUST_PROXY: '1',
    },
  });
  const roles = ['OWNER', 'ADMIN', 'MEMBER', 'MEMBER', 'MEMBER'] as const;
  tenantA = await seedTenant(server.database.ownerUrl, { members: roles.map((role) => ({ role })) });
  tenantB = await seedTenant(server.database.ownerUrl, { members: roles.map((role) => ({ role })) });
});
afterAll(() => server?.close());

/** `n` viewer queries by one user from one fresh address: their HTTP statuses. */
async function statuses(tenant: SeededTenant, userIndex: number, n: number, ip = freshIp()): Promise<number[]> {
  const token = await server.tokenFor(tenant, tenant.users[userIndex]!);
  const seen: number[] = [];
  for (let i = 0; i < n; i++) seen.push((await server.graphql(VIEWER, { token, headers: fromIp(ip) })).status);
  return seen;
}

describe('per principal', () => {
  it('allows a burst, then throttles with 429, Retry-After and RATE_LIMITED, then refills', async () => {
    const user = tenantB.users[2]!;
    const token = await server.tokenFor(tenantB, user);
    const ip = freshIp();
    for (let i = 0; i < 3; i++) {
      const { status, body } = await server.graphql(VIEWER, { token, headers: fromIp(ip) });
      expect(status).toBe(200);
      expect(body.data.viewer).toEqual({ kind: 'USER', user: { email: user.email } });
    }
    const refused = await server.graphql(VIEWER, { token, headers: fromIp(ip) });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.data ?? null).toBeNull();
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    expect(refused.body.errors[0].message).toMatch(/Too many requests/);

    // Another principal of the same tenant has its own bucket.
    expect(await statuses(tenantB, 3, 1)).toEqual([200]);

    // One second refills one token (1/s), and only one.
    clock.advance(1_000);
    expect((await server.graphql(VIEWER, { token, headers: fromIp(ip) })).status).toBe(200);
    expect((await server.graphql(VIEWER, { token, headers: fromIp(ip) })).status).toBe(429);
  });

  it('throttles graphql-ws operations with the same error', async () => {
    clock.advance(10_000);
    const token = await server.tokenFor(tenantB, tenantB.users[4]!);
    const client = wsClient(server.wsUrl, { token, headers: fromIp(freshIp()) });
    try {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await wsOperation(client, '{ viewer { kind } }'));
      expect(results.slice(0, 3).map((result) => result.data?.viewer?.kind)).toEqual(['USER', 'USER', 'USER']);
      expect(results[3]!.data ?? null).toBeNull();
      expect(results[3]!.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    } finally {
      await client.dispose();
    }
  });

  it('takes the audit export from the same bucket as GraphQL', async () => {
    clock.advance(10_000);
    const token = await server.tokenFor(tenantB, tenantB.users[1]!); // an ADMIN
    const ip = freshIp();
    const exportTrail = () => fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${token}`, ...fromIp(ip) } });
    const answered = [];
    for (let i = 0; i < 4; i++) {
      const response = await exportTrail();
      answered.push([response.status, response.headers.get('retry-after')]);
      await response.text();
    }
    expect(answered).toEqual([[200, null], [200, null], [200, null], [429, '1']]);
    // One bucket for every surface: GraphQL is refused now too.
    expect((await server.graphql(VIEWER, { token, headers: fromIp(ip) })).status).toBe(429);
  });
});

describe('per-tenant override', () => {
  it('lets an ADMIN set the tenant limit, which applies at once; null returns to the default', async () => {
    clock.advance(10_000);
    const admin = await server.tokenFor(tenantA, tenantA.users[1]!);
    const set = await server.graphql(SETTINGS, { token: admin, headers: fromIp(freshIp()), variables: { input: { rateLimitPerSecond: 2, rateLimitBurst: 6 } } });
    expect(set.body.errors).toBeUndefined();
    expect(set.body.data.updateTenantSettings).toEqual({ rateLimitPerSecond: 2, rateLimitBurst: 6, name: tenantA.name });

    // Tenant A's principals now get 6 at once; tenant B's keep the server default of 3.
    expect(await statuses(tenantA, 2, 7)).toEqual([200, 200, 200, 200, 200, 200, 429]);
    expect(await statuses(tenantB, 0, 4)).toEqual([200, 200, 200, 429]);
    // At 2/s, the next token is half a second away: Retry-After rounds up to 1.
    const token = await server.tokenFor(tenantA, tenantA.users[2]!);
    const again = await server.graphql(VIEWER, { token, headers: fromIp(freshIp()) });
    expect(again.body.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    clock.advance(500);
    expect((await server.graphql(VIEWER, { token, headers: fromIp(freshIp()) })).status).toBe(200);

    clock.advance(10_000);
    const owner = await server.tokenFor(tenantA, tenantA.users[0]!);
    const reset = await server.graphql(SETTINGS, { token: owner, headers: fromIp(freshIp()), variables: { input: { rateLimitPerSecond: null, rateLimitBurst: null } } });
    expect(reset.body.data.updateTenantSettings).toMatchObject({ rateLimitPerSecond: null, rateLimitBurst: null });
    expect(await statuses(tenantA, 3, 4)).toEqual([200, 200, 200, 429]);
  });

  it('refuses members, non-owners changing other settings, and values out of range', async () => {
    clock.advance(10_000);
    const member = await server.tokenFor(tenantA, tenantA.users[4]!);
    const admin = await server.tokenFor(tenantA, tenantA.users[1]!);
    const byMember = await server.graphql(SETTINGS, { token: member, headers: fromIp(freshIp()), variables: { input: { rateLimitBurst: 50 } } });
    expect(byMember.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const rename = await server.graphql(SETTINGS, { token: admin, headers: fromIp(freshIp()), variables: { input: { name: 'Renamed', rateLimitBurst: 5 } } });
    expect(rename.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    for (const input of [{ rateLimitBurst: 0 }, { rateLimitPerSecond: 1001 }]) {
      clock.advance(10_000);
      const bad = await server.graphql(SETTINGS, { token: admin, headers: fromIp(freshIp()), variables: { input } });
      expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: Object.keys(input)[0] });
    }
    const tenant = await server.graphql('{ viewer { tenant { rateLimitPerSecond rateLimitBurst name } } }', { token: admin, headers: fromIp(freshIp()) });
    expect(tenant.body.data.viewer.tenant).toEqual({ rateLimitPerSecond: null, rateLimitBurst: null, name: tenantA.name });
  });
});

describe('per client address', () => {
  it('limits anonymous callers by address, before anything else runs', async () => {
    clock.advance(20_000);
    const ip = freshIp();
    for (let i = 0; i < 10; i++) {
      const { status, body } = await server.graphql('{ viewer { kind } }', { headers: fromIp(ip) });
      expect([status, body.data.viewer.kind]).toEqual([200, 'ANONYMOUS']);
    }
    const refused = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...fromIp(ip) },
      body: JSON.stringify({ query: '{ viewer { kind } }' }),
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.headers.get('x-request-id')).toBeTruthy();
    expect(await refused.json()).toEqual({
      errors: [{ message: 'Too many requests from your address: retry in 1 s', extensions: { code: 'RATE_LIMITED', reason: 'ADDRESS_RATE_LIMIT', retryAfterSeconds: 1 } }],
    });
    // The REST login counts against the same address.
    const rest = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...fromIp(ip) },
      body: JSON.stringify({ email: 'nobody@example.test', password: 'whatever it is' }),
    });
    expect(rest.status).toBe(429);
    // In the login's own OAuth2-style shape, as its OpenAPI entry says.
    expect(await rest.json()).toMatchObject({ error: 'invalid_request', code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    // And the MCP door's in JSON-RPC's.
    const mcp = await fetch(`${server.baseUrl}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', ...fromIp(ip) }, body: '{}' });
    expect([mcp.status, await mcp.json()]).toMatchObject([429, { jsonrpc: '2.0', id: null, error: { data: { code: 'RATE_LIMITED', reason: 'ADDRESS_RATE_LIMIT' } } }]);
    // Another address is unaffected.
    expect((await server.graphql('{ viewer { kind } }', { headers: fromIp(freshIp()) })).status).toBe(200);
  });

  it('counts an IPv6 /64 as one address', async () => {
    clock.advance(20_000);
    for (let i = 1; i <= 10; i++) expect((await server.graphql('{ __typename }', { headers: fromIp(`2001:db8:7:1::${i}`) })).status).toBe(200);
    expect((await server.graphql('{ __typename }', { headers: fromIp('2001:db8:7:1:ffff::9') })).status).toBe(429);
    expect((await server.graphql('{ __typename }', { headers: fromIp('2001:db8:7:2::1') })).status).toBe(200);
  });

  it('limits graphql-ws operations by the address of the connection', async () => {
    clock.advance(20_000);
    const client = wsClient(server.wsUrl, { headers: fromIp(freshIp()) });
    try {
      const results = [];
      for (let i = 0; i < 11; i++) results.push(await wsOperation(client, '{ viewer { kind } }'));
      expect(results.slice(0, 10).every((result) => result.data?.viewer?.kind === 'ANONYMOUS')).toBe(true);
      expect(results[10]!.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
      // Refused before its document is read: a document that would fail to parse or validate
      // is refused for the rate all the same (a flood costs a bucket's take each, not a parse).
      for (const document of ['{ nope }', '{ viewer {', '{ viewer { kind } }'.repeat(50)]) {
        expect((await wsOperation(client, document)).errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ADDRESS_RATE_LIMIT' });
      }
    } finally {
      await client.dispose();
    }
  });
});

describe('without SLUICE_TRUST_PROXY', () => {
  let direct: TestServer;
  beforeAll(async () => {
    direct = await startTestServer({ env: { SLUICE_RATE_LIMITS: 'on', SLUICE_IP_RATE_LIMIT_PER_SECOND: '0.01', SLUICE_IP_RATE_LIMIT_BURST: '3' } });
  });
  afterAll(() => direct?.close());

  it('ignores X-Forwarded-For: a client cannot pick its own bucket', async () => {
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push((await direct.graphql('{ __typename }', { headers: fromIp(freshIp()) })).status);
    expect(sent).toEqual([200, 200, 200, 429]);
  });
});
