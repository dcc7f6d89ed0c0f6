/**
 * SLUICE_REDACT_PHONE_COUNTRY reaches the audit trail too: a national phone number (written
 * without +country) in what an event keeps unmarked is masked there as in the logs. Before,
 * the trail's redaction ran without the deployment's country and kept `020 7946 0958` as is.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { signUp } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_REDACT_PHONE_COUNTRY: 'GB' }, worker: false });
}, 120_000);
afterAll(() => server?.close());

it('masks a national number in an unmarked argument, and keeps the rest of the event', async () => {
  const owner = await signUp(server);
  const asked = await server.graphql('query($f: AuditEventFilter) { auditEvents(filter: $f) { events { id } } }', {
    token: owner.accessToken,
    variables: { f: { action: 'call 020 7946 0958 today' } },
  });
  expect(asked.body.errors).toBeUndefined();
  const [event] = await withClient(server.database.ownerUrl, (client) =>
    pollUntil(
      async () =>
        (
          await client.query<{ payload: string }>(
            `select payload::text as payload from audit_events where tenant_id = (select id from tenants where slug = $1) and action = 'graphql.query' and payload::text like '%call%'`,
            [owner.tenant.slug],
          )
        ).rows,
      (rows) => rows.length > 0,
      { failure: () => 'the auditEvents query was not recorded' },
    ),
  );
  const stored = event!.payload;
  expect(stored).not.toMatch(/7946|0958/);
  expect(stored).toContain('call ');
  expect(stored).toContain(' today');
  expect(JSON.parse(stored).details.fields[0]).toMatchObject({ field: 'auditEvents' });
});
