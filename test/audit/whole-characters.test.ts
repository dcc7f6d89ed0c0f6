/**
 * The audit trail stores whole characters only, and one event it cannot store never holds back
 * the others. An anonymous logIn whose e-mail was 1 023 letters and an emoji had its personal
 * value cut at 1 024 code units, between the emoji's halves: PostgreSQL refused the event
 * (jsonb, 22P02), the writer's fallback replaced only its details and failed again, and the
 * event went back to the head of the queue every second, with every later event of every
 * tenant behind it until the server stopped, and then lost. (Since 2026-12-07 such an e-mail,
 * no address, is kept only as a keyed digest: the trail must still record it and go on.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { AuditLog, PLATFORM_CHAIN } from '../../src/domains/audit/audit-log.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { createApiKey, signUp } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
}, 120_000);
afterAll(() => server?.close());

const LOG_IN = 'mutation($e: String!) { logIn(input: { email: $e, password: "whatever123" }) { accessToken } }';

function storedEvents(sql: string, params: unknown[]) {
  return withClient(server.database.ownerUrl, async (client) => (await client.query(sql, params)).rows);
}

it('keeps recording after a value cut at an emoji, and keeps that event with whole characters', async () => {
  const owner = await signUp(server);
  const logsBefore = server.logs.length;
  for (const email of [`${'a'.repeat(1023)}😀`, `${'b'.repeat(1022)}😀😀@example.com`]) {
    const { body } = await server.graphql(LOG_IN, { variables: { e: email } });
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  }
  // Another tenant's change afterwards is recorded: nothing waits behind the anonymous events.
  const key = await createApiKey(server, owner.accessToken, { name: 'after the emoji', scopes: ['READ'] });
  expect(key.body.errors).toBeUndefined();
  await pollUntil(
    () => storedEvents(`select 1 from audit_events where tenant_id = (select id from tenants where slug = $1) and action = 'config.apiKey.create'`, [owner.tenant.slug]),
    (rows) => rows.length === 1,
    { failure: () => 'the key creation after the emoji e-mails was not recorded' },
  );
  // Neither is an address an account could have (over 320 characters): since 2026-12-07 each is
  // kept as a keyed digest of the whole value (marks.ts, `email`), computed over whole characters.
  const secrets = secretsOf(server);
  for (const email of [`${'a'.repeat(1023)}😀`, `${'b'.repeat(1022)}😀😀@example.com`]) {
    const digest = `digest:${secrets.digest('audit text', email.toLowerCase()).digest}`;
    await pollUntil(
      () => storedEvents(`select 1 from audit_events where tenant_id = $1 and personal->'values' ? $2`, [PLATFORM_CHAIN, digest]),
      (rows) => rows.length === 1,
      { failure: () => 'the logIn with the emoji e-mail was not recorded' },
    );
  }
  expect(await storedEvents(`select 1 from audit_events where tenant_id = $1 and personal::text like '%aaaaaaaaaaaaaaaa%'`, [PLATFORM_CHAIN])).toEqual([]);
  const troubles = server.logs.slice(logsBefore).filter((line) => line.level >= 50);
  expect(troubles.map((line) => line.msg)).toEqual([]);
});

it('stores an event PostgreSQL refuses with less of it, and the events after it whole', async () => {
  const owner = await signUp(server);
  const tenantId = (await storedEvents('select id from tenants where slug = $1', [owner.tenant.slug]))[0].id as string;
  // The writer as server.ts builds it, on the test server's database. NUL is refused at every
  // door, so no request can carry it this far: the event is made here, as a value from
  // elsewhere (a provider's claim, a model's message) could make it.
  const audit = new AuditLog({ orm: server.orm, secrets: secretsOf(server), logger: createLogger({ level: 'silent' }) });
  const actor = { kind: 'user', id: null, email: 'nul\u0000@example.com' };
  audit.record({ tenantId, action: 'test.unstorable', outcome: 'ok', actor, details: { note: 'nul \u0000 here' } });
  audit.record({ tenantId, action: 'test.after', outcome: 'ok', actor: { kind: 'user', id: null, email: 'fine@example.com' }, details: { note: 'whole' } });
  await audit.close();
  const rows = await storedEvents(
    `select action, payload->'details' as details, personal->>'email' as email from audit_events where tenant_id = $1 and action like 'test.%' order by seq`,
    [tenantId],
  );
  expect(rows).toEqual([
    // Its e-mail, no address (a NUL in it), is kept as a keyed digest, which jsonb stores (marks.ts, `email`).
    { action: 'test.unstorable', details: { unrecordable: '22P05' }, email: expect.stringMatching(/^digest:[0-9a-f]{64}$/) },
    { action: 'test.after', details: { note: 'whole' }, email: 'fine@example.com' },
  ]);
});
