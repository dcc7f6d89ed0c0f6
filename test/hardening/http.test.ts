/**
 * HTTP hardening over the real server: security headers on every kind of response, GraphiQL's
 * page and its policy, the CORS allow-list (and deny-all in production), the WebSocket Origin
 * check, CSRF prevention (forms, GET, uploads, REST login), and production error masking of a
 * failure while the operation's context is built.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withClient } from '../../src/db/bootstrap.js';
import { signUp } from '../support/identity.js';
import { createDataset, ingestFiles, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { GRAPHIQL_POLICY } from '../../src/platform/http/security-headers.js';

const ALLOWED = 'https://console.example.test';
const EVIL = 'https://evil.example';
const API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const VIEWER = JSON.stringify({ query: '{ viewer { kind } }' });

let dev: TestServer;
let production: TestServer;

beforeAll(async () => {
  [dev, production] = await Promise.all([
    startTestServer({ env: { CORS_ORIGINS: `${ALLOWED},https://admin.example.test`, SLUICE_GRAPHIQL: 'true' } }),
    // No CORS_ORIGINS: production's default allows no browser origin. The test database has no TLS.
    startTestServer({ env: { NODE_ENV: 'production', SLUICE_DATABASE_SSL: 'disable' } }),
  ]);
});
afterAll(() => Promise.all([dev?.close(), production?.close()]));

const postJson = (server: TestServer, headers: Record<string, string> = {}, body = VIEWER) =>
  fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('security headers', () => {
  const responses = (server: TestServer): [string, () => Promise<Response>][] => [
    ['a GraphQL POST', () => postJson(server)],
    ['/healthz', () => fetch(`${server.baseUrl}/healthz`)],
    ['/readyz', () => fetch(`${server.baseUrl}/readyz`)],
    ['a CORS preflight', () => fetch(server.url, { method: 'OPTIONS', headers: { origin: ALLOWED, 'access-control-request-method': 'POST' } })],
    ['the REST login', () => fetch(`${server.baseUrl}/api/v1/auth/login`)],
    ['a REST query refused', () => fetch(`${server.baseUrl}/api/v1/endpoints/acme/none/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })],
    ['the OpenAPI document', () => fetch(`${server.baseUrl}/api/v1/openapi.json`)],
    ['an unknown path', () => fetch(`${server.baseUrl}/nope`)],
    ['a 413 written before Yoga', () => postJson(server, {}, JSON.stringify({ query: `{ viewer { kind } } #${'x'.repeat(server.config.http.maxBodyBytes)}` }))],
  ];

  it('are on every response, without HSTS outside production', async () => {
    for (const [what, send] of responses(dev)) {
      const response = await send();
      await response.arrayBuffer();
      const headers = Object.fromEntries(['x-content-type-options', 'x-frame-options', 'referrer-policy', 'content-security-policy', 'strict-transport-security'].map((name) => [name, response.headers.get(name)]));
      expect({ what, headers }).toEqual({
        what,
        headers: {
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
          'content-security-policy': API_POLICY,
          'strict-transport-security': null,
        },
      });
    }
  });

  it('add HSTS in production', async () => {
    for (const [, send] of responses(production)) {
      const response = await send();
      await response.arrayBuffer();
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it("serve GraphiQL's page and files from this server, under a policy with no inline script and no other host", async () => {
    const response = await fetch(dev.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(response.headers.get('content-security-policy')).toBe(GRAPHIQL_POLICY);
    const policy = Object.fromEntries(GRAPHIQL_POLICY.split('; ').map((directive) => [directive.split(' ')[0], directive.split(' ').slice(1)]));
    expect(policy['frame-ancestors']).toEqual(["'none'"]);
    expect(policy['script-src']).toEqual(["'self'"]);
    expect(GRAPHIQL_POLICY).not.toMatch(/https?:|'sha256-|'unsafe-eval'/);
    // No inline script; every file the page names is this server's, and answered.
    expect(page).not.toMatch(/<script>/);
    const files = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map(([, url]) => url!).filter((url) => url !== 'data:,');
    expect(files.sort()).toEqual(['/graphiql/favicon.ico', '/graphiql/graphiql.css', '/graphiql/graphiql.js']);
    for (const file of files) {
      const asset = await fetch(new URL(file, dev.baseUrl));
      expect({ file, status: asset.status, csp: asset.headers.get('content-security-policy') }).toEqual({ file, status: 200, csp: GRAPHIQL_POLICY });
    }
    expect((await fetch(new URL('/graphiql/graphiql.js', dev.baseUrl))).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(new URL('/graphiql/other.js', dev.baseUrl))).status).toBe(404);
    // Production serves no GraphiQL, nor its files.
    expect((await fetch(new URL('/graphiql/graphiql.js', production.baseUrl))).status).toBe(404);
  });
});

describe('CORS allow-list', () => {
  const preflight = (server: TestServer, origin: string) =>
    fetch(server.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' } });

  it('answers a listed origin with its CORS headers, and no credentials mode', async () => {
    const response = await preflight(dev, ALLOWED);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type, authorization');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    const actual = await postJson(dev, { origin: 'https://admin.example.test' });
    expect(actual.headers.get('access-control-allow-origin')).toBe('https://admin.example.test');
    expect(actual.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('gives any other origin no CORS header at all', async () => {
    for (const response of [await preflight(dev, EVIL), await postJson(dev, { origin: EVIL })]) {
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(response.headers.get('access-control-allow-methods')).toBeNull();
    }
  });

  it('allows no origin in production without CORS_ORIGINS', async () => {
    expect(production.config.http.corsOrigins).toEqual([]);
    for (const origin of [ALLOWED, EVIL]) expect((await preflight(production, origin)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a WebSocket upgrade from a page of another origin (403), not clients without an Origin', async () => {
    const upgrade = (server: TestServer, origin?: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', origin ? { origin } : {});
        socket.on('open', () => {
          socket.close();
          resolve(101);
        });
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('error', (error) => (error.message.includes('Unexpected server response') ? undefined : reject(error)));
      });
    expect(await upgrade(dev, EVIL)).toBe(403);
    expect(await upgrade(dev, ALLOWED)).toBe(101);
    expect(await upgrade(dev)).toBe(101);
    expect(await upgrade(production, ALLOWED)).toBe(403);
    expect(await upgrade(production)).toBe(101);
  });
});

describe('CSRF prevention', () => {
  const codeOf = async (response: Response) => ((await response.json()) as any).errors?.[0]?.extensions?.code;

  it('refuses GraphQL requests a cross-site form could send, with 403 CSRF_HEADER_REQUIRED', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const response = await fetch(dev.url, { method: 'POST', headers: { 'content-type': contentType }, body: VIEWER });
      expect({ contentType, status: response.status, code: await codeOf(response) }).toEqual({ contentType, status: 403, code: 'CSRF_HEADER_REQUIRED' });
    }
  });

  it('refuses a GET without a header, and runs it with x-sluice-csrf', async () => {
    const url = `${dev.url}?query=${encodeURIComponent('{ viewer { kind } }')}`;
    const refused = await fetch(url, { headers: { accept: 'application/json' } });
    expect([refused.status, await codeOf(refused)]).toEqual([403, 'CSRF_HEADER_REQUIRED']);
    const allowed = await fetch(url, { headers: { accept: 'application/json', 'x-sluice-csrf': '1' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ data: { viewer: { kind: 'ANONYMOUS' } } });
  });

  it('lets an authenticated multipart upload through (its Authorization header forced a preflight)', async () => {
    const { token } = await tenantWithOwner(dev);
    const dataset = await createDataset(dev, token);
    const { status, body } = await ingestFiles(dev, token, dataset.id, [{ name: 'notes.md', type: 'text/markdown', content: '# Notes\n\nHello.' }]);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.ingestDocuments.id).toBeTruthy();
    const anonymous = new FormData();
    anonymous.set('operations', VIEWER);
    anonymous.set('map', '{}');
    const refused = await fetch(dev.url, { method: 'POST', body: anonymous });
    expect([refused.status, await codeOf(refused)]).toEqual([403, 'CSRF_HEADER_REQUIRED']);
  });

  it('guards the REST login the same way, and lets JSON clients log in', async () => {
    const account = await signUp(dev);
    const login = (contentType: string) =>
      fetch(`${dev.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: JSON.stringify({ email: account.email, password: account.password }),
      });
    const refused = await login('text/plain');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'invalid_request', code: 'CSRF_HEADER_REQUIRED' });
    const accepted = await login('application/json');
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ token_type: 'bearer', access_token: expect.any(String) });
  });
});

describe('production error masking', () => {
  it('masks an unexpected failure while the context is built, with the request id the log line carries', async () => {
    // The API key lookup fails in a way no client input can cause.
    await withClient(production.database.ownerUrl, (client) => client.query('revoke execute on function auth_api_key from public, sluice_app'));
    try {
      const response = await postJson(production, { 'x-api-key': `slk_${'A'.repeat(43)}`, 'x-request-id': 'masking-check-1' });
      const body = (await response.json()) as any;
      expect(body.errors).toEqual([{ message: 'Unexpected error.', extensions: { code: 'INTERNAL', requestId: 'masking-check-1' } }]);
      const logged = production.logs.find((line) => line.requestId === 'masking-check-1' && line.level >= 50);
      expect(logged?.err?.message).toMatch(/permission denied for function auth_api_key/);
    } finally {
      await withClient(production.database.ownerUrl, (client) => client.query('grant execute on function auth_api_key to sluice_app'));
    }
  });

  it('masks it the same way on every door outside GraphQL: INTERNAL, "Unexpected error.", the request id logged', async () => {
    await withClient(production.database.ownerUrl, (client) => client.query('revoke execute on function auth_api_key from public, sluice_app'));
    const key = `slk_${'B'.repeat(43)}`;
    const call = (door: string, path: string, init: RequestInit = {}) =>
      fetch(`${production.baseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': `masked-${door}`, ...(init.headers as Record<string, string>) },
      });
    const post = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });
    try {
      const answers = {
        rest: await call('rest', '/api/v1/endpoints/some-tenant/some-endpoint/query', post({ query: 'anything' })),
        catalog: await call('catalog', '/api/v1/endpoints'),
        models: await call('models', '/v1/models'),
        chat: await call('chat', '/v1/chat/completions', post({ model: 'some-tenant/some-endpoint', messages: [{ role: 'user', content: 'anything' }] })),
        mcp: await call('mcp', '/mcp', { ...post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), headers: { accept: 'application/json, text/event-stream' } }),
        audit: await call('audit', '/api/v1/audit/events.jsonl'),
      };
      const seen: Record<string, unknown> = {};
      for (const [door, response] of Object.entries(answers)) {
        const body = (await response.json()) as any;
        // Each door's own shape: problem details, JSON-RPC's error, GraphQL's for the audit
        // export (its request id in the x-request-id header), OpenAI's error object.
        const [message, code, requestId] =
          door === 'rest' || door === 'catalog'
            ? [body.detail, body.code, body.requestId]
            : door === 'mcp'
              ? [body.error?.message, body.error?.data?.code, body.error?.data?.requestId]
              : door === 'audit'
                ? [body.errors?.[0]?.message, body.errors?.[0]?.extensions?.code, body.errors?.[0]?.extensions?.requestId]
                : [body.error?.message, body.error?.code, body.error?.sluice?.requestId];
        seen[door] = { status: response.status, message, code, requestId };
      }
      expect(seen).toEqual(
        Object.fromEntries(Object.keys(answers).map((door) => [door, { status: 500, message: 'Unexpected error.', code: 'INTERNAL', requestId: `masked-${door}` }])),
      );
      for (const door of Object.keys(answers)) {
        const logged = production.logs.find((line) => line.requestId === `masked-${door}` && line.level >= 50);
        expect({ door, cause: logged?.err?.message }).toEqual({ door, cause: expect.stringMatching(/permission denied for function auth_api_key/) });
      }
    } finally {
      await withClient(production.database.ownerUrl, (client) => client.query('grant execute on function auth_api_key to sluice_app'));
    }
  });

  it('masks it on the REST login too, in OAuth’s shape, and logs the cause under the request id', async () => {
    // The account lookup fails in a way no client input can cause.
    await withClient(production.database.ownerUrl, (client) => client.query('revoke select on users from sluice_app'));
    try {
      const response = await fetch(`${production.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'masked-login' },
        body: JSON.stringify({ email: 'someone@example.test', password: 'a password of some length' }),
      });
      expect({ status: response.status, requestId: response.headers.get('x-request-id'), body: await response.json() }).toEqual({
        status: 500,
        requestId: 'masked-login',
        body: { error: 'server_error', error_description: 'Unexpected error.', code: 'INTERNAL', requestId: 'masked-login' },
      });
      const logged = production.logs.find((line) => line.requestId === 'masked-login' && line.level >= 50);
      expect(logged?.err?.message).toMatch(/permission denied for table users/);
    } finally {
      await withClient(production.database.ownerUrl, (client) => client.query('grant select on users to sluice_app'));
    }
  });
  it('answers a body it cannot read without quoting it back: no parser detail in production', async () => {
    const broken = '{"query": "mutation { logIn(input: $i) { accessToken } }", "variables": {"i": {"password": "Broken-Quokka-77"}}';
    const [inProduction, inDevelopment] = await Promise.all([production, dev].map(async (server) => {
      const response = await postJson(server, {}, broken);
      return { status: response.status, body: (await response.json()) as any };
    }));
    expect(inProduction).toEqual({ status: 400, body: { errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }] } });
    // Development keeps the parser's words for whoever is debugging their client.
    expect(inDevelopment!.body.errors[0].extensions.originalError.message).toContain('JSON');
  });
});
