/**
 * `GET /api/v1/openapi.json`: public and cacheable, a valid OpenAPI 3.1 document by a
 * maintained validator (@seriousme/openapi-schema-validator), describing every REST route;
 * the real answers of the login and audit export routes match its schemas (the query
 * route's are checked in rest-query.test.ts).
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { signUp } from '../support/identity.js';
import { schemaValidator } from '../support/rest.js';
import { startTestServer, type TestServer } from '../support/server.js';

const OPENAPI_URL = '/api/v1/openapi.json';

let server: TestServer;
let document: Record<string, any>;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
  document = await (await fetch(`${server.baseUrl}${OPENAPI_URL}`)).json();
});
afterAll(async () => {
  await server?.close();
});

describe('the document', () => {
  it('is served to anyone, with no credential, cacheable, and answers 304 to its own ETag', async () => {
    const response = await fetch(`${server.baseUrl}${OPENAPI_URL}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    const again = await fetch(`${server.baseUrl}${OPENAPI_URL}`, { headers: { 'if-none-match': etag! } });
    expect([again.status, again.headers.get('etag'), await again.text()]).toEqual([304, etag, '']);
    const posted = await fetch(`${server.baseUrl}${OPENAPI_URL}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect([posted.status, (await posted.json()).code, posted.headers.get('allow')]).toEqual([405, 'METHOD_NOT_ALLOWED', 'GET, HEAD']);
  });

  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('describes every REST route, with problem details and both credentials', () => {
    expect(Object.keys(document.paths).sort()).toEqual(['/api/v1/audit/events.jsonl', '/api/v1/auth/login', '/api/v1/endpoints', '/api/v1/endpoints/{tenant}/{endpoint}/query', '/api/v1/openapi.json']);
    const query = document.paths['/api/v1/endpoints/{tenant}/{endpoint}/query'].post;
    expect(Object.keys(query.responses['200'].content).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(query.responses['404'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/ProblemDetails' });
    expect(query.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/QueryRequest' });
    expect(document.components.schemas.QueryRequest).toMatchObject({ required: ['query'], additionalProperties: false });
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['apiKeyAuth', 'bearerAuth']);
  });

  it('its schemas refuse what they should (a validator that accepts everything proves nothing)', () => {
    const validate = schemaValidator(document);
    expect(validate('ProblemDetails', {})).not.toEqual([]);
    expect(validate('QueryAnswer', { passages: [{ rank: 1 }], answer: 'x', citations: [], usage: {}, latencyMs: 1 })).not.toEqual([]);
    expect(validate('QueryRequest', { query: 'water', prompt: 'x' })).not.toEqual([]);
    expect(validate('QueryRequest', { query: 'water', topK: 3 })).toEqual([]);
  });
});

describe('the routes’ real answers match it', () => {
  it('login: the token response and the OAuth-style error', async () => {
    const validate = schemaValidator(document);
    const account = await signUp(server);
    const login = (body: unknown) =>
      fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await login({ email: account.email, password: account.password });
    expect(ok.status).toBe(200);
    expect(validate('TokenResponse', await ok.json())).toEqual([]);
    const refused = await login({ email: account.email, password: 'wrong passphrase entirely' });
    expect(refused.status).toBe(401);
    expect(validate('OAuthError', await refused.json())).toEqual([]);
  });

  it('audit export: each line is an AuditEventLine; a refusal is GraphQLErrors', async () => {
    const validate = schemaValidator(document);
    const account = await signUp(server);
    // The trail is written asynchronously: wait for the sign-up's events before exporting.
    await auditEventsOf(server, account.accessToken, 1);
    const exported = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${account.accessToken}` } });
    expect(exported.status).toBe(200);
    const lines = (await exported.text()).split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(validate('AuditEventLine', line)).toEqual([]);
    const refused = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`);
    expect(refused.status).toBe(401);
    expect(validate('GraphQLErrors', await refused.json())).toEqual([]);
  });
});
