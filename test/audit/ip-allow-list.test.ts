/**
 * A tenant's IP allow-list: validated, refuses to lock out the request setting it, and refuses
 * operations (HTTP and WebSocket) from other addresses with FORBIDDEN / IP_NOT_ALLOWED while
 * other tenants are unaffected.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withClient } from '../../src/db/bootstrap.js';
import { gql, must } from '../support/endpoints.js';
import { signUp } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const update = 'mutation($l: [String!]) { updateTenantSettings(input: { ipAllowList: $l }) { ipAllowList } }';

it('validates ranges and will not let a request lock itself out', async () => {
  const owner = await signUp(server);
  const bad = await gql(server, owner.accessToken, update, { l: ['10.0.0.0/33'] });
  expect(bad.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ipAllowList', range: '10.0.0.0/33' });
  expect((await gql(server, owner.accessToken, update, { l: ['not an address'] })).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  const lockout = await gql(server, owner.accessToken, update, { l: ['10.0.0.0/8'] });
  expect(lockout.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'LOCKOUT' });
  const set = await must(server, owner.accessToken, update, { l: ['127.0.0.1', '10.0.0.0/8', '::1'] });
  expect(set.updateTenantSettings.ipAllowList).toEqual(['127.0.0.1/32', '10.0.0.0/8', '::1/128']);
  expect((await must(server, owner.accessToken, '{ viewer { kind } }')).viewer.kind).toBe('USER');
  expect((await must(server, owner.accessToken, update, { l: [] })).updateTenantSettings.ipAllowList).toBeNull();
});

it('refuses operations from outside the list over HTTP and WebSocket; other tenants are unaffected', async () => {
  const fenced = await signUp(server);
  const other = await signUp(server);
  await withClient(server.database.ownerUrl, (client) =>
    client.query(`update tenants set ip_allow_list = '{10.1.0.0/16}' where slug = $1`, [fenced.tenant.slug]),
  );
  const refused = await server.graphql('{ viewer { kind } }', { token: fenced.accessToken });
  expect(refused.status).toBe(403);
  expect(refused.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'IP_NOT_ALLOWED' });
  expect((await must(server, other.accessToken, '{ viewer { kind } }')).viewer.kind).toBe('USER');

  // The REST routes meet the same list: the audit export too, and its refusal is audited.
  const exported = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${fenced.accessToken}` } });
  expect(exported.status).toBe(403);
  expect((await exported.json()).errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'IP_NOT_ALLOWED' });
  const catalog = await fetch(`${server.baseUrl}/api/v1/endpoints`, { headers: { authorization: `Bearer ${fenced.accessToken}` } });
  expect([catalog.status, (await catalog.json()).reason]).toEqual([403, 'IP_NOT_ALLOWED']);
  expect(await refusalsRecorded(fenced.tenant.slug, ['rest.audit_export', 'rest.catalog'])).toEqual([
    { action: 'rest.audit_export', outcome: 'FORBIDDEN' },
    { action: 'rest.catalog', outcome: 'FORBIDDEN' },
  ]);

  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${fenced.accessToken}` } });
  try {
    const results: any[] = [];
    for await (const result of client.iterate({ query: 'subscription { auditEvents { action } }' })) {
      results.push(result);
      break;
    }
    expect(results[0].errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'IP_NOT_ALLOWED' });
    // The refusal ends that operation, not the socket: the next one is refused cleanly too.
    const again = await client.iterate({ query: '{ viewer { kind } }' }).next();
    expect(again.value.errors[0].extensions.code).toBe('FORBIDDEN');
  } finally {
    await client.dispose();
  }
});

/** The tenant's events of these actions, once the asynchronous writer has written one of each. */
async function refusalsRecorded(tenantSlug: string, actions: string[]): Promise<{ action: string; outcome: string }[]> {
  return withClient(server.database.ownerUrl, (client) =>
    pollUntil(
      async () =>
        (
          await client.query<{ action: string; outcome: string }>(
            'select action, outcome from audit_events where tenant_id = (select id from tenants where slug = $1) and action = any($2) order by action, seq',
            [tenantSlug, actions],
          )
        ).rows,
      (rows) => new Set(rows.map((row) => row.action)).size === actions.length,
      { failure: (rows) => `events of ${actions.join(', ')} not all written: ${JSON.stringify(rows)}` },
    ),
  );
}
