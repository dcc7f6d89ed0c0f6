/**
 * The audit trail's trust boundary (an attacker review): the trail's SECURITY DEFINER functions
 * do not trust what the app database role passes them, and what verification cannot check
 * fails instead of passing. The attacks connect as the app role (DATABASE_APP_URL), as someone
 * holding the API's database credentials, not its master key, would; damage only the owner
 * can do stands in for what the functions let the app role do before the migration
 * audit_trust_boundary.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { PLATFORM_CHAIN } from '../../src/domains/audit/audit-log.js';
import { verifyAllChains } from '../../src/domains/audit/operator.js';
import { auditEventsOf } from '../support/audit.js';
import { must } from '../support/endpoints.js';
import { pollUntil } from '../support/poll.js';
import { addMember, createApiKey, signUp } from '../support/identity.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const VERIFY = '{ verifyAuditChain { ok problem firstBrokenEventId } }';
const asApp = <T>(work: (client: pg.Client) => Promise<T>) => withClient(server.database.appUrl, work);
const asOwner = <T>(work: (client: pg.Client) => Promise<T>) => withClient(server.database.ownerUrl, work);
const userIdOf = async (account: { email: string }): Promise<string> =>
  (await asOwner((client) => client.query('select id from users where email = $1', [account.email]))).rows[0].id;

/** An event as a forger would hand append_audit_events: everything chosen by the caller. */
function forged(tenantId: string, actorId: string, overrides: { createdAt?: string; personal?: Record<string, unknown>; payload?: Record<string, unknown> } = {}) {
  const id = randomUUID();
  return {
    id,
    tenantId,
    createdAt: overrides.createdAt ?? new Date().toISOString(),
    personal: overrides.personal ?? { email: 'someone-else@evil.test', ip: '203.0.113.9', userAgent: 'x' },
    payload: {
      id,
      at: new Date().toISOString(),
      action: 'config.apiKey.revoke',
      outcome: 'ok',
      actorKind: 'user',
      actorId,
      requestId: null,
      traceId: null,
      details: { target: { type: 'ApiKey', id: 'forged' } },
      ...overrides.payload,
    },
  };
}

it('the app role cannot pseudonymise a live account: its email and IP stay, later events keep them, the chain verifies', async () => {
  const owner = await signUp(server);
  const ownerId = await userIdOf(owner);
  const key = await createApiKey(server, owner.accessToken, { name: 'evidence', scopes: ['READ'] });
  const keyId = databaseIdOf(key.body.data.createApiKey.apiKey.id);
  const before = await auditEventsOf(server, owner.accessToken, 1, { action: 'config.apiKey.create' });
  expect(before.map((event) => event.actorEmail)).toEqual([owner.email]);

  await asApp(async (client) => {
    await expect(client.query(`select pseudonymise_audit_actor($1, 'nobody')`, [ownerId])).rejects.toMatchObject({ code: '42501' });
    // erase_user, which the API calls, erases accounts only: not an API key's (or any other) id.
    await expect(client.query(`select erase_user($1::uuid, 'nobody')`, [keyId])).rejects.toMatchObject({ code: 'P0002' });
  });
  // The function itself refuses a live account, whoever calls it.
  await asOwner(async (client) => {
    await expect(client.query(`select pseudonymise_audit_actor($1, 'nobody')`, [ownerId])).rejects.toMatchObject({ code: '42501' });
    expect((await client.query('select actor_id from audit_erased_actors where actor_id = any($1)', [[ownerId, keyId]])).rows).toEqual([]);
  });

  await createApiKey(server, owner.accessToken, { name: 'later', scopes: ['READ'] });
  const after = await auditEventsOf(server, owner.accessToken, 2, { action: 'config.apiKey.create' });
  expect(after.map((event) => [event.actorEmail, event.ip])).toEqual([
    [owner.email, before[0]!.ip],
    [owner.email, before[0]!.ip],
  ]);
  expect((await must(server, owner.accessToken, VERIFY)).verifyAuditChain).toEqual({ ok: true, problem: null, firstBrokenEventId: null });
});

it('reports personal data marked erased for an actor who was never erased', async () => {
  const owner = await signUp(server);
  const [event] = await auditEventsOf(server, owner.accessToken, 1, { actor: await userIdOf(owner) });
  // What pseudonymise_audit_actor did for the app role before: history rewritten in place.
  await asOwner((client) => client.query(`update audit_events set personal = '{"erased": true, "pseudonym": "nobody"}' where id = $1`, [event!.id]));
  expect((await must(server, owner.accessToken, VERIFY)).verifyAuditChain).toEqual({
    ok: false,
    problem: 'its personal data is marked erased, but its actor was never erased',
    firstBrokenEventId: event!.id,
  });
});

it('stores a forged event’s time as its payload says, and reports its personal data under an unknown master key', async () => {
  const victim = await signUp(server);
  const tenantId = databaseIdOf(victim.tenant.id);
  const actorId = await userIdOf(victim);
  await auditEventsOf(server, victim.accessToken, 1);
  const event = forged(tenantId, actorId, {
    createdAt: '2020-01-01T00:00:00Z',
    payload: { at: '2026-12-07T00:00:00.000Z', personalDigest: 'anything', personalKeyId: 'no-such-key' },
  });
  // Appending is the writer's right; storing it other than as its payload says is not.
  await asApp((client) => client.query('select append_audit_events($1::jsonb)', [JSON.stringify([event])]));
  const [stored] = await asOwner(async (client) => (await client.query('select created_at from audit_events where id = $1', [event.id])).rows);
  expect(stored.created_at.toISOString()).toBe('2026-12-07T00:00:00.000Z');

  expect((await must(server, victim.accessToken, VERIFY)).verifyAuditChain).toEqual({
    ok: false,
    problem: 'its personal data was digested under master key no-such-key, which is neither SLUICE_MASTER_KEY nor in SLUICE_MASTER_KEY_PREVIOUS',
    firstBrokenEventId: event.id,
  });
});

it('refuses events whose personal data claims erasure or whose payload has no time, and reports personal data without a digest', async () => {
  const victim = await signUp(server);
  const tenantId = databaseIdOf(victim.tenant.id);
  const actorId = await userIdOf(victim);
  await auditEventsOf(server, victim.accessToken, 1);
  const append = (event: unknown) => asApp((client) => client.query('select append_audit_events($1::jsonb)', [JSON.stringify([event])]));
  await expect(append(forged(tenantId, actorId, { personal: { erased: true, pseudonym: 'nobody' } }))).rejects.toMatchObject({ code: '22023' });
  await expect(append(forged(tenantId, actorId, { personal: { email: null, ip: null, userAgent: null, valuesErased: true } }))).rejects.toMatchObject({ code: '22023' });
  await expect(append(forged(tenantId, actorId, { payload: { at: undefined } }))).rejects.toMatchObject({ code: '22007' });
  await expect(append(forged(tenantId, actorId, { payload: { at: 'now' } }))).rejects.toMatchObject({ code: '22007' });
  expect((await must(server, victim.accessToken, VERIFY)).verifyAuditChain).toMatchObject({ ok: true });

  const undigested = forged(tenantId, actorId);
  await append(undigested);
  expect((await must(server, victim.accessToken, VERIFY)).verifyAuditChain).toEqual({ ok: false, problem: 'its personal data has no digest', firstBrokenEventId: undigested.id });
});

it('keeps the trail’s own events and times ahead of the database’s clock from the app role', async () => {
  const victim = await signUp(server);
  const tenantId = databaseIdOf(victim.tenant.id);
  const actorId = await userIdOf(victim);
  await auditEventsOf(server, victim.accessToken, 1);
  const append = (event: unknown) => asApp((client) => client.query('select append_audit_events($1::jsonb)', [JSON.stringify([event])]));
  const cutRecord = { action: 'audit.retention_applied', actorKind: 'system', actorId: 'audit-retention', details: { removedEvents: 0, fromSeq: '1', keptFromSeq: '1' } };
  await expect(append(forged(tenantId, actorId, { payload: cutRecord }))).rejects.toMatchObject({ code: '42501' });
  await expect(append(forged(tenantId, actorId, { payload: { action: 'audit.chain.rewritten' } }))).rejects.toMatchObject({ code: '42501' });
  // A year ahead would keep retention from removing anything of this chain after it.
  const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString();
  await expect(append(forged(tenantId, actorId, { payload: { at: inAYear } }))).rejects.toMatchObject({ code: '22008' });
  const [{ count }] = await asOwner(async (client) => (await client.query('select count(*)::int as count from audit_events where tenant_id = $1 and (action like $2 or created_at > now())', [tenantId, 'audit.%'])).rows);
  expect(count).toBe(0);
  // Within the clock skew allowed, and as the owner (what retention runs as), they are appended.
  const soon = forged(tenantId, actorId, { payload: { at: new Date(Date.now() + 60_000).toISOString() } });
  await append(soon);
  const ownerRecord = forged(tenantId, actorId, { payload: { ...cutRecord, at: inAYear } });
  await asOwner((client) => client.query('select append_audit_events($1::jsonb)', [JSON.stringify([ownerRecord])]));
  const stored = await asOwner(async (client) => (await client.query('select id, action from audit_events where id = any($1::uuid[]) order by seq', [[soon.id, ownerRecord.id]])).rows);
  expect(stored).toEqual([
    { id: soon.id, action: 'config.apiKey.revoke' },
    { id: ownerRecord.id, action: 'audit.retention_applied' },
  ]);
});

it('reports an event whose time no longer matches its payload', async () => {
  const owner = await signUp(server);
  const [event] = await auditEventsOf(server, owner.accessToken, 1);
  await asOwner((client) => client.query(`update audit_events set created_at = created_at - interval '1 day' where id = $1`, [event!.id]));
  expect((await must(server, owner.accessToken, VERIFY)).verifyAuditChain).toEqual({ ok: false, problem: 'its time does not match its payload', firstBrokenEventId: event!.id });
});

it('a genuine account deletion verifies on the tenant’s chain and the platform’s, under the listed pseudonym only', async () => {
  const owner = await signUp(server);
  const member = await addMember(server, owner.accessToken, 'MEMBER');
  const memberId = databaseIdOf(member.user.id);
  await must(server, member.accessToken, '{ viewer { kind } }');
  await auditEventsOf(server, owner.accessToken, 1, { actor: memberId });
  expect((await must(server, member.accessToken, `mutation { deleteMyAccount(password: "${member.password}") }`)).deleteMyAccount).toBe(true);

  const [listed] = await asOwner(async (client) => (await client.query('select pseudonym from audit_erased_actors where actor_id = $1', [memberId])).rows);
  expect(listed.pseudonym).toMatch(/^erased-/);
  // account.deleted: written after the erasure, on the platform chain, under the pseudonym too.
  const deleted = await auditEventsOfActor(memberId, 'account.deleted');
  expect(deleted.personal).toEqual({ erased: true, pseudonym: listed.pseudonym });
  const theirs = await auditEventsOf(server, owner.accessToken, 1, { actor: memberId });
  expect(theirs.every((event) => event.actorEmail === null && event.ip === null)).toBe(true);

  expect((await must(server, owner.accessToken, VERIFY)).verifyAuditChain).toEqual({ ok: true, problem: null, firstBrokenEventId: null });
  const secrets = secretsOf(server);
  const platform = (await verifyAllChains(server.database.ownerUrl, secrets)).find((chain) => chain.tenantId === PLATFORM_CHAIN);
  expect(platform).toMatchObject({ ok: true, problem: null });

  await asOwner((client) => client.query(`update audit_events set personal = '{"erased": true, "pseudonym": "erased-someone-else"}' where id = $1`, [theirs[0]!.id]));
  expect((await must(server, owner.accessToken, VERIFY)).verifyAuditChain).toEqual({
    ok: false,
    problem: 'its personal data is not its erased actor’s pseudonym',
    firstBrokenEventId: theirs[0]!.id,
  });
});

/** The stored row of `actor`'s `action` event, once the asynchronous writer has written it. */
const auditEventsOfActor = (actorId: string, action: string): Promise<{ personal: Record<string, unknown> }> =>
  pollUntil(
    () => asOwner(async (client) => (await client.query('select personal from audit_events where actor_id = $1 and action = $2', [actorId, action])).rows),
    (rows) => rows.length > 0,
    { intervalMs: 50, failure: () => `no ${action} event of ${actorId}` },
  ).then(([row]) => row);
