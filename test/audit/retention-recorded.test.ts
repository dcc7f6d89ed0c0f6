/**
 * Retention's chain cuts are on the chain: each run that removes a chain's oldest events appends
 * an `audit.retention_applied` event naming the cut, in the same transaction, and verification
 * accepts a chain that does not start at its first event only when such an event names exactly
 * that cut. Until then an OWNER could set a 1-day retention and, a day later, the settings
 * change and everything before it were gone with nothing saying so, and removing the oldest
 * events by hand (the head moved as retention moves it) verified as well (attacker review).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditEventRow } from '../../src/domains/audit/audit-log.js';
import { applyRetention } from '../../src/domains/audit/retention.js';
import type { SecretBox } from '../../src/platform/secrets/secret-box.js';
import { auditEventsOf } from '../support/audit.js';
import { must } from '../support/endpoints.js';
import { createApiKey, signUp, type SignedUp, tenantIdOf } from '../support/identity.js';
import { asOwner } from '../support/locks.js';
import { runMigrationAgain } from '../support/migrations.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';

const DAY = 86_400_000;
const VERIFY = 'query { verifyAuditChain { ok checked firstBrokenEventId problem } }';
let server: TestServer;
let secrets: SecretBox;
beforeAll(async () => {
  server = await startTestServer();
  secrets = secretsOf(server);
});
afterAll(async () => {
  await server?.close();
});

const verify = async (account: SignedUp) => (await must(server, account.accessToken, VERIFY)).verifyAuditChain;

/** The tenant's chain as stored, oldest first. */
function chainOf(tenantId: string) {
  return asOwner(server, async (client) => {
    const { rows } = await client.query<{ seq: string; id: string; action: string; actor_id: string | null; details: Record<string, unknown>; prev: string; hash: string }>(
      `select e.seq::text as seq, e.id, e.action, e.actor_id, e.payload->'details' as details, encode(e.prev_hash, 'hex') as prev, encode(e.hash, 'hex') as hash
         from audit_events e where e.tenant_id = $1 order by e.seq`,
      [tenantId],
    );
    return rows;
  });
}

/** A tenant with a few events on its chain (sign-up's settings, API keys). */
async function tenantWithHistory(): Promise<{ account: SignedUp; tenantId: string }> {
  const account = await signUp(server);
  await createApiKey(server, account.accessToken, { name: 'one', scopes: ['READ'] });
  await createApiKey(server, account.accessToken, { name: 'two', scopes: ['READ'] });
  await auditEventsOf(server, account.accessToken, 4);
  return { account, tenantId: tenantIdOf(account) };
}

/** What a person with the database owner's rights does to hide a chain's oldest events: what retention did, without its record. */
function cutByHand(tenantId: string, keepFrom: string) {
  return asOwner(server, async (client) => {
    await client.query(
      `update audit_chain_heads set retained_from_seq = $2::bigint, retained_prev_hash = (select hash from audit_events where tenant_id = $1 and seq = $2::bigint - 1) where tenant_id = $1`,
      [tenantId, keepFrom],
    );
    await client.query('delete from audit_events where tenant_id = $1 and seq < $2', [tenantId, keepFrom]);
  });
}

it('a 1-day retention run records its cut on the chain, the settings change it removed included, and the cut chain verifies', async () => {
  const account = await signUp(server);
  const tenantId = tenantIdOf(account);
  await must(server, account.accessToken, 'mutation { updateTenantSettings(input: { auditRetentionDays: 1 }) { auditRetentionDays } }');
  const [settings] = await auditEventsOf(server, account.accessToken, 1, { action: 'config.tenant.settings' });
  expect(settings!.details.after).toMatchObject({ auditRetentionDays: 1 });

  // Two days on: everything the tenant did so far is older than its one day.
  const now = new Date(Date.now() + 2 * DAY);
  await asOwner(server, (client) => applyRetention(client, secrets, now));

  const chain = await chainOf(tenantId);
  const record = chain.find((event) => event.action === 'audit.retention_applied')!;
  expect(record).toMatchObject({ actor_id: 'audit-retention' });
  // Every event before the first kept one went (an event appended while the run began may be kept, to go next time).
  const first = chain[0]!;
  expect(record.details).toEqual({
    removedEvents: Number(first.seq) - 1,
    fromSeq: '1',
    keptFromSeq: first.seq,
    lastRemovedHash: first.prev,
    retentionDays: 1,
    cutOff: new Date(now.getTime() - DAY).toISOString(),
  });
  expect(Number(record.details.removedEvents)).toBeGreaterThanOrEqual(Number(settings!.sequence));
  expect(chain.filter((event) => event.action === 'config.tenant.settings')).toEqual([]);
  // Readable through the API like any event, and the chain as retention left it verifies.
  const [read] = await auditEventsOf(server, account.accessToken, 1, { action: 'audit.retention_applied' });
  expect(read).toMatchObject({ actorKind: 'system', actorId: 'audit-retention', outcome: 'ok', details: record.details });
  expect(await verify(account)).toMatchObject({ ok: true, firstBrokenEventId: null, problem: null });

  // A run with nothing more to remove from this chain records nothing.
  await asOwner(server, (client) => applyRetention(client, secrets, now));
  expect((await chainOf(tenantId)).filter((event) => event.action === 'audit.retention_applied')).toHaveLength(1);
});

it('oldest events removed by hand, the chain head moved as retention moves it, are reported', async () => {
  const { account, tenantId } = await tenantWithHistory();
  expect(await verify(account)).toMatchObject({ ok: true });
  const kept = (await chainOf(tenantId))[2]!;
  await cutByHand(tenantId, kept.seq);
  expect(await verify(account)).toEqual({
    ok: false,
    checked: 0,
    firstBrokenEventId: kept.id,
    problem: `the chain starts at event ${kept.seq}, but no audit.retention_applied event records removing the events before it`,
  });
});

it('a cut by hand beyond the one retention recorded is reported: the record names its cut exactly', async () => {
  const account = await signUp(server);
  const tenantId = tenantIdOf(account);
  await must(server, account.accessToken, 'mutation { updateTenantSettings(input: { auditRetentionDays: 1 }) { auditRetentionDays } }');
  await auditEventsOf(server, account.accessToken, 1, { action: 'config.tenant.settings' });
  await asOwner(server, (client) => applyRetention(client, secrets, new Date(Date.now() + 2 * DAY)));
  await createApiKey(server, account.accessToken, { name: 'after', scopes: ['READ'] });
  await auditEventsOf(server, account.accessToken, 1, { action: 'config.apiKey.create' });
  expect(await verify(account)).toMatchObject({ ok: true });

  const chain = await chainOf(tenantId);
  expect(chain.find((event) => event.action === 'audit.retention_applied')!.details).toMatchObject({ keptFromSeq: chain[0]!.seq });
  await cutByHand(tenantId, chain[2]!.seq);
  expect(await verify(account)).toMatchObject({
    ok: false,
    firstBrokenEventId: chain[2]!.id,
    problem: `the chain starts at event ${chain[2]!.seq}, but no audit.retention_applied event records removing the events before it`,
  });
});

it('oldest events removed by hand, the head left as it was, are reported', async () => {
  const { account, tenantId } = await tenantWithHistory();
  await asOwner(server, (client) => client.query('delete from audit_events where tenant_id = $1 and seq < 3', [tenantId]));
  expect(await verify(account)).toMatchObject({ ok: false, checked: 0, problem: 'event 1 is missing' });
});

it('a record of a retention cut that did not happen is reported', async () => {
  const { account, tenantId } = await tenantWithHistory();
  const chain = await chainOf(tenantId);
  // Whoever can append events (the app role) can append this record, but cannot remove what it names.
  await asOwner(server, async (client) => {
    const id = randomUUID();
    const forged = auditEventRow(secrets, {
      id,
      createdAt: new Date().toISOString(),
      storeEmails: true,
      record: {
        tenantId,
        action: 'audit.retention_applied',
        outcome: 'ok',
        actor: { kind: 'system', id: 'audit-retention', email: null },
        details: { removedEvents: 2, fromSeq: '1', keptFromSeq: chain[2]!.seq, lastRemovedHash: chain[1]!.hash, retentionDays: 1, cutOff: new Date().toISOString() },
      },
    });
    await client.query('select append_audit_events($1::jsonb)', [JSON.stringify([forged])]);
  });
  const result = await verify(account);
  expect(result).toMatchObject({ ok: false, problem: 'its record of retention names a cut the chain does not show' });
  expect((await chainOf(tenantId)).find((event) => event.id === result.firstBrokenEventId)?.action).toBe('audit.retention_applied');
});

it('a chain retention cut before cuts were recorded gets its record at the upgrade, and verifies', async () => {
  const { account, tenantId } = await tenantWithHistory();
  const chain = await chainOf(tenantId);
  await cutByHand(tenantId, chain[2]!.seq);
  expect(await verify(account)).toMatchObject({ ok: false });

  await runMigrationAgain(server, 'Migration20261207110000_audit_retention_recorded');
  const record = (await chainOf(tenantId)).find((event) => event.action === 'audit.retention_applied')!;
  expect(record.details).toMatchObject({ removedEvents: 2, fromSeq: '1', keptFromSeq: chain[2]!.seq, lastRemovedHash: chain[1]!.hash, retentionDays: null, cutOff: null });
  expect(record.details.recorded).toEqual(expect.stringContaining('at the upgrade'));
  expect(await verify(account)).toMatchObject({ ok: true });
  // Run again, it finds the cut recorded and adds nothing.
  await runMigrationAgain(server, 'Migration20261207110000_audit_retention_recorded');
  expect((await chainOf(tenantId)).filter((event) => event.action === 'audit.retention_applied')).toHaveLength(1);
});
