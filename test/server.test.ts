/**
 * The real server over HTTP, SSE and graphql-ws: health, the viewer, credentials, the error
 * model, request limits and GraphQL-over-HTTP conformance.
 */
import { request as httpRequest } from 'node:http';
import { auditServer } from 'graphql-http';
import { createClient, type Client } from 'graphql-ws';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/domains/identity/access-token.js';
import { seedTenant, type SeededTenant } from './support/seed.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './support/server.js';

const VIEWER = `{ viewer { kind role scopes credentialExpiresAt user { email } tenant { slug } } }`;

let server: TestServer;
let tenant: SeededTenant;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'ADMIN' }] });
});
afterAll(() => server?.close());

/** A token signed like Sluice's own, with one thing changed. */
function forge(options: { secret?: string; audience?: string; issuer?: string; expiresIn?: string } = {}) {
  const user = tenant.users[0]!;
  return new SignJWT({ email: user.email, tid: tenant.id, tslug: tenant.slug, role: user.role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user.id)
    .setIssuer(options.issuer ?? TOKEN_ISSUER)
    .setAudience(options.audience ?? TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
  });
});

describe('viewer and credentials', () => {
  it('is anonymous without a credential', async () => {
    const { status, body } = await server.graphql(VIEWER);
    expect(status).toBe(200);
    expect(body.data.viewer).toEqual({ kind: 'ANONYMOUS', role: null, scopes: [], credentialExpiresAt: null, user: null, tenant: null });
  });

  it('is the user and tenant of a valid token', async () => {
    const user = tenant.users[0]!;
    const { body } = await server.graphql(VIEWER, { token: await server.tokenFor(tenant, user) });
    expect(body.errors).toBeUndefined();
    expect(body.data.viewer).toMatchObject({ kind: 'USER', role: 'ADMIN', user: { email: user.email }, tenant: { slug: tenant.slug } });
    expect(Date.parse(body.data.viewer.credentialExpiresAt)).toBeGreaterThan(Date.now());
  });

  const refusals: [string, () => Promise<string>][] = [
    ['signed with another secret', () => forge({ secret: 'another-secret-that-is-at-least-32-chars' })],
    ['expired', () => forge({ expiresIn: '-10m' })],
    ['meant for another audience', () => forge({ audience: 'someone-else' })],
    ['from another issuer', () => forge({ issuer: 'evil' })],
    ['unsigned (alg: none)', async () => new UnsecuredJWT({ tid: tenant.id, role: 'OWNER' }).setSubject(tenant.users[0]!.id).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).encode()],
    ['not a JWT at all', async () => 'definitely-not-a-token'],
  ];
  it.each(refusals)('refuses a token %s with 401 UNAUTHENTICATED', async (_name, make) => {
    const { status, body } = await server.graphql(VIEWER, { token: await make() });
    expect(status).toBe(401);
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a malformed Authorization header rather than treating it as anonymous', async () => {
    const { status, body } = await server.graphql(VIEWER, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(status).toBe(401);
    expect(body.errors?.[0]?.message).toMatch(/Bearer/);
  });

  it('never logs the token it was given', async () => {
    const token = await forge({ secret: 'another-secret-that-is-at-least-32-chars' });
    await server.graphql(VIEWER, { token });
    expect(JSON.stringify(server.logs)).not.toContain(token);
  });
});

describe('error model', () => {
  it('gives a validation error BAD_USER_INPUT (or GRAPHQL_VALIDATION_FAILED) with a message', async () => {
    const { status, body } = await server.graphql('{ viewer { noSuchField } }');
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toContain('noSuchField');
    expect(body.errors?.[0]?.extensions?.code).toMatch(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/);
  });

  it('rejects malformed JSON and invalid UTF-8 with 400, not 500', async () => {
    for (const body of [Buffer.from('{"query": "{ viewer { kind } }"'), Buffer.from([0x7b, 0x22, 0x71, 0xff, 0xfe, 0x7d])]) {
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status).toBe(400);
      expect((await response.json()).errors?.[0]?.message).toBeTruthy();
    }
  });

  it('refuses an oversized body with 413 before reading it', async () => {
    const query = `{ viewer { kind } } #${'x'.repeat(server.config.http.maxBodyBytes)}`;
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    expect(response.status).toBe(413);
    expect((await response.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a chunked body without a length with 411', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ query: '{ viewer { kind } }' }));
    });
    expect(status).toBe(411);
  });

  it('echoes a sane x-request-id and replaces an unsafe one', async () => {
    const sane = await server.graphql('{ viewer { kind } }', { headers: { 'x-request-id': 'client-abc.123' } });
    expect(sane.headers.get('x-request-id')).toBe('client-abc.123');
    const unsafe = await server.graphql('{ viewer { kind } }', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('conforms to GraphQL over HTTP (every MUST audit of graphql-http)', async () => {
    const results = await auditServer({ url: server.url });
    const failedMusts = results.filter((result) => result.status !== 'ok' && result.name.startsWith('MUST'));
    expect(failedMusts.map((result) => result.name)).toEqual([]);
  });
});

describe('subscriptions', () => {
  const HEARTBEAT = 'subscription { heartbeat(intervalSeconds: 1, count: 2) { sequence } }';

  function wsClient(authorization?: string): Client {
    return createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams: authorization ? { authorization } : {},
    });
  }

  async function collect(client: Client, query: string) {
    const results: any[] = [];
    for await (const result of client.iterate({ query })) results.push(result);
    return results;
  }

  it('streams over graphql-ws with the token in connectionParams', async () => {
    const client = wsClient(`Bearer ${await server.tokenFor(tenant, tenant.users[0]!)}`);
    try {
      const results = await collect(client, HEARTBEAT);
      expect(results.map((result) => result.data?.heartbeat.sequence)).toEqual([1, 2]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses an anonymous subscription over graphql-ws with UNAUTHENTICATED', async () => {
    const client = wsClient();
    try {
      const results = await collect(client, HEARTBEAT);
      expect(results[0].errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(results[0].data?.heartbeat ?? null).toBeNull();
    } finally {
      await client.dispose();
    }
  });

  it('streams over SSE', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${await server.tokenFor(tenant, tenant.users[0]!)}`,
      },
      body: JSON.stringify({ query: HEARTBEAT }),
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await response.text();
    const sequences = [...text.matchAll(/"sequence":(\d+)/g)].map((match) => Number(match[1]));
    expect(sequences).toEqual([1, 2]);
  });
});

describe('production', () => {
  let production: TestServer;
  beforeAll(async () => {
    // The test database speaks no TLS: the production SSL requirement is tested in test/hardening.
    production = await startTestServer({ env: { NODE_ENV: 'production', CORS_ORIGINS: 'https://console.example.test', SLUICE_DATABASE_SSL: 'disable' } });
  });
  afterAll(() => production?.close());

  it('masks an unexpected error, with a request id the logs can be searched for', async () => {
    const seeded = await seedTenant(production.database.ownerUrl);
    const token = await production.tokenFor(seeded, seeded.users[0]!);
    // Revoke the app role's read access to tenants: the resolver's query fails in a way no
    // client input can cause.
    const { withClient } = await import('../src/db/bootstrap.js');
    await withClient(production.database.ownerUrl, (client) => client.query('revoke select on tenants from sluice_app'));
    try {
      const { body, headers } = await production.graphql('{ viewer { tenant { slug } } }', { token });
      const error = body.errors?.[0];
      expect(error?.extensions?.code).toBe('INTERNAL');
      expect(error?.message).not.toMatch(/permission|tenants/i);
      const requestId = headers.get('x-request-id');
      expect(error?.extensions?.requestId).toBe(requestId);
      const logged = production.logs.find((line) => line.requestId === requestId && line.level >= 50);
      expect(logged?.err?.message).toMatch(/permission denied/);
    } finally {
      await withClient(production.database.ownerUrl, (client) => client.query('grant select on tenants to sluice_app'));
    }
  });

  it('serves no GraphiQL and refuses origins that are not listed', async () => {
    const page = await fetch(production.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
    const preflight = await fetch(production.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    const allowed = await fetch(production.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example.test', 'access-control-request-method': 'POST' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://console.example.test');
  });
});
