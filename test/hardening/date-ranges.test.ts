/**
 * Dates PostgreSQL cannot take (year 0000, a five-digit year, an offset that carries
 * 9999-12-31 into year 10000) are the caller's mistake on every door: BAD_USER_INPUT naming the
 * argument and the accepted range (src/platform/input/date-times.ts), for the DateTime scalar
 * (variables and literals alike) and the audit export's query parameters. They used to reach
 * PostgreSQL and answer INTERNAL (500), with the SQL in development.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { serverWithOwner, type Tenant } from '../support/ingestion.js';
import type { TestServer } from '../support/server.js';

const RANGE = '0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z';

const context = serverWithOwner();
let server: TestServer;
let acme: Tenant;
beforeEach(() => {
  ({ server, owner: acme } = context);
});

const OUT_OF_RANGE = ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59-01:00', '0001-01-01T00:00:00+01:00'];

describe('an out-of-range DateTime argument', () => {
  const fields: [string, string, string][] = [
    ['verifyAuditChain', 'query($d: DateTime) { verifyAuditChain(from: $d) { checked } }', '{ verifyAuditChain(from: "%") { checked } }'],
    ['auditEvents', 'query($d: DateTime) { auditEvents(filter: { from: $d }) { events { id } } }', '{ auditEvents(filter: { to: "%" }) { events { id } } }'],
    ['usage', 'query($d: DateTime) { usage(range: { from: $d }, groupBy: ENDPOINT) { queries } }', '{ usage(range: { from: "%" }, groupBy: ENDPOINT) { queries } }'],
  ];
  for (const [field, withVariable, withLiteral] of fields) {
    for (const value of OUT_OF_RANGE) {
      it(`${field}: ${value} as a variable or a literal is BAD_USER_INPUT naming the range`, async () => {
        for (const response of [
          await server.graphql(withVariable, { token: acme.token, variables: { d: value } }),
          await server.graphql(withLiteral.replace('%', value), { token: acme.token }),
        ]) {
          expect(response.body.errors).toHaveLength(1);
          const [error] = response.body.errors;
          expect({ status: response.status, code: error.extensions?.code }).toEqual({ status: 400, code: 'BAD_USER_INPUT' });
          expect(error.message).toContain(`DateTime must be from ${RANGE}`);
          expect(response.body.data ?? null).toBeNull();
        }
      });
    }
  }

  it('names the variable it was given in', async () => {
    const response = await server.graphql('query($since: DateTime) { verifyAuditChain(from: $since) { checked } }', { token: acme.token, variables: { since: '0000-01-01T00:00:00Z' } });
    expect(response.body.errors[0].message).toMatch(/^Variable "\$since" got invalid value "0000-01-01T00:00:00Z"; DateTime must be from/);
  });

  it('the ends of the range are accepted', async () => {
    for (const value of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z']) {
      const response = await server.graphql('query($d: DateTime) { verifyAuditChain(from: $d) { checked } }', { token: acme.token, variables: { d: value } });
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data.verifyAuditChain.checked).toEqual(expect.any(Number));
    }
  });
});

describe('an out-of-range date in the audit export', () => {
  const exportWith = (query: string) => fetch(`${server.baseUrl}/api/v1/audit/events.jsonl?${query}`, { headers: { authorization: `Bearer ${acme.token}` } });

  for (const [name, value] of <[string, string][]>[
    ['from', '0000-01-01'],
    ['from', '99999-01-01'],
    ['from', '-000001-01-01T00:00:00Z'],
    ['to', '+010000-01-01T00:00:00Z'],
  ]) {
    it(`${name}=${value} is 400 BAD_USER_INPUT naming ${name} and the range`, async () => {
      const response = await exportWith(`${name}=${encodeURIComponent(value)}`);
      const body = await response.json();
      expect({ status: response.status, code: body.errors[0].extensions.code, message: body.errors[0].message }).toEqual({
        status: 400,
        code: 'BAD_USER_INPUT',
        message: `${name} must be a date-time from ${RANGE}`,
      });
    });
  }

  it('a date in range still exports, and the server answers others meanwhile', async () => {
    const [exported, viewer] = await Promise.all([exportWith('from=2000-01-01'), server.graphql('{ viewer { kind } }', { token: acme.token })]);
    expect(exported.status).toBe(200);
    await exported.text();
    expect(viewer.body.data.viewer.kind).toEqual(expect.any(String));
  });
});
