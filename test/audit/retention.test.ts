/**
 * Retention removes only expired data, as a prefix of each chain (dropping whole monthly
 * partitions where it can), and what remains still verifies, through the API and through
 * `sluice audit verify`, which also reports a broken chain with exit code 1.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { applyRetention } from '../../src/domains/audit/retention.js';
import type { SecretBox } from '../../src/platform/secrets/secret-box.js';
import { forgetUnusedSignInAddresses } from '../../src/domains/identity/sign-in-address-retention.js';
import { auditEventsOf } from '../support/audit.js';
import { must } from '../support/endpoints.js';
import { createApiKey, signUp, tenantIdOf } from '../support/identity.js';
import { runSluice, sluiceEnv } from '../support/process.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { asOwner } from '../support/locks.js';

const DAY = 86_400_000;
let server: TestServer;
let secrets: SecretBox;
beforeAll(async () => {
  server = await startTestServer();
  secrets = secretsOf(server);
});
afterAll(async () => {
  await server?.close();
});

const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString();

it('removes expired audit events, usage and decisions only, and the rest still verifies', async () => {
  const account = await signUp(server);
  const tenantId = tenantIdOf(account);
  // History older than the API: three events written long ago, in order, into monthly partitions.
  await asOwner(server, async (client) => {
    await client.query('select ensure_audit_partitions($1::date, 6)', [daysAgo(215)]);
    // The row's time is the payload's `at` (append_audit_events takes it from there).
    const old = [200, 150, 100].map((days) => {
      const id = randomUUID();
      return {
        id,
        tenantId,
        personal: { email: null, ip: null, userAgent: null },
        payload: { id, at: daysAgo(days), action: 'config.test', outcome: 'ok', actorKind: 'system', actorId: null, details: { days } },
      };
    });
    await client.query('select append_audit_events($1::jsonb)', [JSON.stringify(old)]);
    await client.query('update tenants set audit_retention_days = 120, usage_retention_days = 30 where id = $1', [tenantId]);
    await client.query(
      `insert into usage_records (id, tenant_id, endpoint_slug, caller_tenant_id, caller_kind, caller_id, prompt_tokens, completion_tokens, total_tokens, cost_micros, latency_ms, outcome, created_at)
       values ($1, $3, 'gone', $3, 'user', 'u', 1, 1, 2, 0, 1, 'ok', $4), ($2, $3, 'kept', $3, 'user', 'u', 1, 1, 2, 0, 1, 'ok', now())`,
      [randomUUID(), randomUUID(), tenantId, daysAgo(45)],
    );
  });
  await createApiKey(server, account.accessToken, { name: 'recent', scopes: ['READ'] });
  await auditEventsOf(server, account.accessToken, 4);
  const verify = 'query { verifyAuditChain { ok checked firstBrokenEventId problem } }';
  const before = (await must(server, account.accessToken, verify)).verifyAuditChain;
  expect(before.ok).toBe(true);

  const report = await asOwner(server, (client) => applyRetention(client, secrets));
  // The two expired events were alone in their months: those partitions are dropped whole.
  const month = (days: number) => `audit_events_${daysAgo(days).slice(0, 7).replace('-', '_')}`;
  expect(report.partitionsDropped).toEqual([month(200), month(150)]);
  expect(report.auditEventsDeleted).toBe(0);
  expect(report.usageRecordsDeleted).toBe(1);
  const left = await asOwner(server, async (client) => {
    const { rows } = await client.query(`select payload->'details'->>'days' as days from audit_events where tenant_id = $1 order by seq`, [tenantId]);
    return rows.map((row) => row.days);
  });
  // The 200- and 150-day-old events are gone; the 100-day-old one and the recent ones stay.
  expect(left[0]).toBe('100');
  // The cut is on the chain: the two removed events, and where the kept chain starts.
  const [cut] = await asOwner(server, async (client) => (await client.query(`select payload->'details' as details from audit_events where tenant_id = $1 and action = 'audit.retention_applied'`, [tenantId])).rows);
  expect(cut.details).toMatchObject({ removedEvents: 2, fromSeq: '1', keptFromSeq: '3', retentionDays: 120 });
  expect(left.filter((days) => days === '200' || days === '150')).toEqual([]);
  const after = (await must(server, account.accessToken, verify)).verifyAuditChain;
  expect(after).toMatchObject({ ok: true, firstBrokenEventId: null });
  expect(after.checked).toBeGreaterThanOrEqual(left.length);
  const usage = await asOwner(server, async (client) => (await client.query('select endpoint_slug from usage_records where tenant_id = $1', [tenantId])).rows.map((row) => row.endpoint_slug));
  expect(usage).toEqual(['kept']);
  // Running it again changes nothing.
  const again = await asOwner(server, (client) => applyRetention(client, secrets));
  expect(again).toMatchObject({ partitionsDropped: [], auditEventsDeleted: 0, usageRecordsDeleted: 0 });
});

it('forgets sign-in addresses unused for 90 days, also of a user who never signs in again', async () => {
  const account = await signUp(server);
  // Beside the sign-up's own address: one last used 91 days ago, one 89 days ago.
  const [stale, recent] = ['e'.repeat(64), 'f'.repeat(64)];
  await asOwner(server, (client) =>
    client.query(
      `insert into sign_in_addresses (user_id, address_digest, last_signed_in_at) select id, $2, $3::timestamptz from users where email = $1
       union all select id, $4, $5::timestamptz from users where email = $1`,
      [account.email, stale, daysAgo(91), recent, daysAgo(89)],
    ),
  );
  const digests = () =>
    asOwner(server, async (client) =>
      (await client.query('select a.address_digest from sign_in_addresses a join users u on u.id = a.user_id where u.email = $1', [account.email])).rows.map((row) => row.address_digest),
    );
  expect(await digests()).toHaveLength(3);
  const report = await asOwner(server, (client) => forgetUnusedSignInAddresses(client));
  expect(report.signInAddressesDeleted).toBeGreaterThanOrEqual(1);
  const left = await digests();
  expect(left).toHaveLength(2);
  expect(left).toContain(recent);
  expect(left).not.toContain(stale);
  expect(await asOwner(server, (client) => forgetUnusedSignInAddresses(client))).toEqual({ signInAddressesDeleted: 0 });
});

// Two `sluice` child processes: slow on a busy machine.
it('sluice audit verify reports every chain, and a broken one with exit code 1', { timeout: 300_000 }, async () => {
  const account = await signUp(server);
  await createApiKey(server, account.accessToken, { name: 'one', scopes: ['READ'] });
  const [event] = await auditEventsOf(server, account.accessToken, 1, { action: 'graphql.mutation' });
  const env = sluiceEnv(server.database, { LOG_LEVEL: 'info' });
  const clean = await runSluice(['audit', 'verify', '--tenant', account.tenant.slug, '--json'], env);
  expect(clean.code).toBe(0);
  expect(JSON.parse(clean.stdout).chains.find((chain: { tenant: string }) => chain.tenant === account.tenant.slug)).toMatchObject({ ok: true });

  await asOwner(server, (client) => client.query(`update audit_events set payload = jsonb_set(payload, '{details}', '{}') where id = $1`, [event!.id]));
  const broken = await runSluice(['audit', 'verify', '--json'], env);
  expect(broken.code).toBe(1);
  const report = JSON.parse(broken.stdout);
  expect(report.ok).toBe(false);
  expect(report.chains.find((chain: { tenant: string }) => chain.tenant === account.tenant.slug)).toMatchObject({ ok: false, firstBrokenEventId: event!.id });
  // Without --json, the same answer as lines for a person.
  const lines = await runSluice(['audit', 'verify'], env);
  expect(lines.code).toBe(1);
  expect(lines.stdout).toContain(`${account.tenant.slug}: BROKEN at event ${event!.id}`);
});
