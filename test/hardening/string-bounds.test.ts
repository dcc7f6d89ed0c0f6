/**
 * Strings that name things (emails, slugs, tenants, endpoint references, tokens, cursors) are
 * bounded before anything is looked up (src/schema/string-bounds.ts): BAD_USER_INPUT naming the
 * field and the limit. An anonymous `logIn` with a 1 MB email, or `dataset(slug:)` /
 * `endpoint(slug:)` with a 1 MB slug, used to reach MikroORM criteria, which walk a string
 * character by character, and held the event loop for seconds. Every String argument and input
 * field carries a bound (the schema walk below fails on one that does not); the server answers
 * other requests while such a request is refused.
 */
import { getNamedType } from 'graphql';
import { beforeEach, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { serverWithOwner, type Tenant } from '../support/ingestion.js';
import { schemaInputs } from '../support/schema-inputs.js';
import type { TestServer } from '../support/server.js';

// Under the 1 MiB body limit, as the review sent it.
const MEGABYTE = 900_000;
const huge = (suffix = '') => `${'a'.repeat(MEGABYTE)}${suffix}`;

/** Bounded elsewhere, with a message of their own: the query text (the query service, 8192) and inline document text (ingestion's limits). */
const BOUNDED_BY_SERVICE = ['Query.queryEndpoint.query', 'Subscription.endpointQuery.query', 'InlineDocumentInput.text'];
/** Relay's `after` / `before`: decoded by domains/pagination.ts, which refuses one over 512 characters. */
const CURSOR = /^(after|before)$/;

describe('the schema', () => {
  it('bounds every String argument and input field', () => {
    const strings = schemaInputs(schema).filter(({ input }) => getNamedType(input.type).name === 'String');
    const checked = strings.length;
    const unbounded = strings
      .filter(({ where, input }) => !(input.extensions?.maxLength ?? input.extensions?.displayText) && !BOUNDED_BY_SERVICE.includes(`${where}.${input.name}`) && !CURSOR.test(input.name))
      .map(({ where, input }) => `${where}.${input.name}`);
    expect(checked).toBeGreaterThan(50);
    expect(unbounded).toEqual([]);
  });
});

describe('a megabyte where a name goes', () => {
  const context = serverWithOwner();
  let server: TestServer;
  let acme: Tenant;
  beforeEach(() => {
    ({ server, owner: acme } = context);
  });

  /** The refusal, and that a request sent alongside was answered too. */
  async function refusedBesideAnother(send: () => Promise<{ status: number; body: any }>) {
    const [refused, other] = await Promise.all([send(), server.graphql('{ viewer { kind } }', { token: acme.token })]);
    expect(other.body.data.viewer.kind).toEqual(expect.any(String));
    const [error] = refused.body.errors;
    return { status: refused.status, code: error.extensions?.code, path: error.extensions?.issues?.[0]?.path, message: error.message };
  }

  it('logIn (anonymous): BAD_USER_INPUT naming input.email and 320', async () => {
    const refusal = await refusedBesideAnother(() =>
      server.graphql('mutation($e: String!) { logIn(input: { email: $e, password: "x" }) { accessToken } }', { variables: { e: huge('@example.com') } }),
    );
    expect(refusal).toEqual({ status: 200, code: 'BAD_USER_INPUT', path: ['input', 'email'], message: `input.email: must be at most 320 characters (got ${MEGABYTE + 12})` });
  });

  it('dataset(slug:) and endpoint(slug:): BAD_USER_INPUT naming slug and 64', async () => {
    for (const query of ['query($s: String) { dataset(slug: $s) { id } }', 'query($s: String!) { endpoint(slug: $s) { id } }']) {
      const refusal = await refusedBesideAnother(() => server.graphql(query, { token: acme.token, variables: { s: huge() } }));
      expect(refusal).toEqual({ status: 200, code: 'BAD_USER_INPUT', path: ['slug'], message: `slug: must be at most 64 characters (got ${MEGABYTE})` });
    }
  });

  it('signUp, inviteMember, switchTenant, refreshSession, queryEndpoint and a cursor are refused the same way', async () => {
    const cases: [string, Record<string, unknown>, string | undefined, (string | number)[]][] = [
      ['mutation($e: String!) { signUp(input: { email: $e, password: "correct horse battery", tenantName: "Acme" }) { accessToken } }', { e: huge('@example.com') }, undefined, ['input', 'email']],
      ['mutation($e: String!) { inviteMember(email: $e, role: VIEWER) { token } }', { e: huge('@example.com') }, acme.token, ['email']],
      ['mutation($t: String!) { switchTenant(tenant: $t) { accessToken } }', { t: huge() }, acme.token, ['tenant']],
      ['mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }', { t: huge() }, undefined, ['refreshToken']],
      ['query($e: String!) { queryEndpoint(endpoint: $e, query: "lock") { answer } }', { e: huge('/x') }, acme.token, ['endpoint']],
    ];
    for (const [query, variables, token, path] of cases) {
      const { body } = await server.graphql(query, { variables, token });
      expect({ query, code: body.errors?.[0]?.extensions?.code, path: body.errors?.[0]?.extensions?.issues?.[0]?.path }).toEqual({ query, code: 'BAD_USER_INPUT', path });
    }
    const cursor = await server.graphql('query($c: String) { datasets(first: 5, after: $c) { edges { node { id } } } }', { token: acme.token, variables: { c: huge() } });
    expect(cursor.body.errors[0]).toMatchObject({ message: 'Invalid pagination cursor: at most 512 characters', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('a slug within the bound is looked up as before', async () => {
    const { body } = await server.graphql('query($s: String) { dataset(slug: $s) { id } }', { token: acme.token, variables: { s: 'x'.repeat(64) } });
    expect(body).toEqual({ data: { dataset: null } });
  });

  it('the REST login: 400 BAD_USER_INPUT naming email and 320', async () => {
    const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: huge('@example.com'), password: 'x' }),
    });
    expect({ status: response.status, body: await response.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'email: must be at most 320 characters', code: 'BAD_USER_INPUT' },
    });
  });
});
