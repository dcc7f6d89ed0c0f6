/**
 * exportMyData holds the caller's data and nobody else's; deleteMyAccount erases it, keeps
 * the audit chain verifiable (personal data replaced by a pseudonym), and the account can no
 * longer sign in. An erasure racing an audit append in flight waits for it (migration
 * audit_erasure_lock), checked with the two transactions interleaved by hand.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { gql, must } from '../support/endpoints.js';
import { addMember, createApiKey, logIn, signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

it('exports the caller’s own data only', async () => {
  const owner = await signUp(server);
  const member = await addMember(server, owner.accessToken, 'ADMIN');
  await createApiKey(server, member.accessToken, { name: 'member-key', scopes: ['READ'] });
  await createApiKey(server, owner.accessToken, { name: 'owner-key', scopes: ['READ'] });
  await auditEventsOf(server, owner.accessToken, 3, { action: 'graphql.mutation' });
  const { exportMyData } = await must(server, member.accessToken, '{ exportMyData }');
  expect(exportMyData.profile).toMatchObject({ email: member.email });
  expect(exportMyData.memberships).toEqual([expect.objectContaining({ tenant: owner.tenant.slug, role: 'ADMIN' })]);
  expect(exportMyData.apiKeys.map((key: { name: string }) => key.name)).toEqual(['member-key']);
  expect(exportMyData.auditEvents.length).toBeGreaterThanOrEqual(1);
  const json = JSON.stringify(exportMyData);
  expect(json).not.toContain(owner.email);
  expect(json).not.toContain('owner-key');
  expect(json).not.toContain('secretHash');
});

it('erases an account: no sign-in, audit events pseudonymised, chain still verifies', async () => {
  const owner = await signUp(server);
  const member = await addMember(server, owner.accessToken, 'MEMBER');
  await createApiKey(server, owner.accessToken, { name: 'k', scopes: ['READ'] });
  await must(server, member.accessToken, '{ viewer { kind } }');
  const memberId = databaseIdOf(member.user.id);
  await auditEventsOf(server, owner.accessToken, 1, { actor: memberId });

  const wrong = await gql(server, member.accessToken, 'mutation { deleteMyAccount(password: "not it") }');
  expect(wrong.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  const sole = await gql(server, owner.accessToken, `mutation { deleteMyAccount(password: "${owner.password}") }`);
  expect(sole.errors[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'SOLE_OWNER', tenants: [owner.tenant.slug] });

  expect((await must(server, member.accessToken, `mutation { deleteMyAccount(password: "${member.password}") }`)).deleteMyAccount).toBe(true);
  expect((await logIn(server, { email: member.email, password: member.password })).body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  expect((await gql(server, member.accessToken, '{ viewer { kind } }')).errors[0].extensions.code).toBe('UNAUTHENTICATED');

  const theirs = await withClient(server.database.ownerUrl, async (client) => (await client.query('select personal from audit_events where actor_id = $1', [memberId])).rows);
  expect(theirs.length).toBeGreaterThan(0);
  expect(theirs.every((row) => row.personal.erased === true && /^erased-/.test(row.personal.pseudonym))).toBe(true);
  expect(JSON.stringify(theirs)).not.toContain(member.email);
  const verified = await must(server, owner.accessToken, '{ verifyAuditChain { ok problem } }');
  expect(verified.verifyAuditChain).toEqual({ ok: true, problem: null });
  const members = await must(server, owner.accessToken, '{ viewer { tenant { members(first: 10) { edges { node { user { email } } } } } } }').catch(() => null);
  if (members) expect(JSON.stringify(members)).not.toContain(member.email);
});

it('erases an address from the trails of the tenants the account belonged to, not from others’', async () => {
  const inviter = await signUp(server);
  const invitedEmail = `newhire-${randomUUID()}@example.com`;
  await must(server, inviter.accessToken, 'mutation($e: String!) { inviteMember(email: $e, role: MEMBER) { token } }', { e: invitedEmail });
  const valuesOf = () =>
    withClient(server.database.ownerUrl, async (client) =>
      (await client.query(`select personal->'values' as v from audit_events where tenant_id = (select id from tenants where slug = $1) and action = 'config.member.invite'`, [inviter.tenant.slug])).rows.map((row) => row.v),
    );
  await auditEventsOf(server, inviter.accessToken, 1, { action: 'config.member.invite' });
  expect(await valuesOf()).toEqual([[invitedEmail]]);
  // A stranger signs up under the invited address (Sluice verifies none), then erases that account.
  const stranger = await signUp(server, { email: invitedEmail });
  expect((await must(server, stranger.accessToken, `mutation { deleteMyAccount(password: "${stranger.password}") }`)).deleteMyAccount).toBe(true);
  // The inviting tenant's record is its own: the stranger never belonged to it.
  expect(await valuesOf()).toEqual([[invitedEmail]]);
});

it('deletes the tenants only the erased user belonged to', async () => {
  const solo = await signUp(server);
  expect((await must(server, solo.accessToken, `mutation { deleteMyAccount(password: "${solo.password}") }`)).deleteMyAccount).toBe(true);
  const left = await withClient(server.database.ownerUrl, async (client) => (await client.query('select 1 from tenants where slug = $1', [solo.tenant.slug])).rowCount);
  expect(left).toBe(0);
});

it('erasure waits for an audit append in flight, then pseudonymises its event too', async () => {
  // Two transactions interleaved by hand, as the audit writer and deleteMyAccount can be.
  const tenantId = randomUUID();
  const actorId = randomUUID();
  const eventId = randomUUID();
  const at = new Date().toISOString();
  const event = {
    id: eventId,
    tenantId,
    createdAt: at,
    personal: { email: 'leaving@example.com', ip: '203.0.113.9', userAgent: null },
    payload: { id: eventId, at, action: 'graphql.query', outcome: 'ok', actorKind: 'user', actorId, requestId: null, traceId: null, details: {} },
  };
  const writer = new pg.Client({ connectionString: server.database.appUrl });
  const eraser = new pg.Client({ connectionString: server.database.ownerUrl });
  await Promise.all([writer.connect(), eraser.connect()]);
  try {
    await writer.query('begin');
    await writer.query('select append_audit_events($1::jsonb)', [JSON.stringify([event])]);
    // The append has not committed: the erasure must wait for it, not pass it by.
    let erased = false;
    const erasure = eraser.query(`select pseudonymise_audit_actor($1, 'erased-race') as changed`, [actorId]).then((result) => ((erased = true), result));
    const waiting = async () =>
      (await withClient(server.database.ownerUrl, (client) => client.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'select pseudonymise_audit_actor%'`))).rowCount;
    for (let tries = 0; (await waiting()) === 0; tries += 1) {
      if (tries > 100) throw new Error('the erasure never waited for the append in flight');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(erased).toBe(false);
    await writer.query('commit');
    expect((await erasure).rows[0].changed).toBe('1');
    const stored = await withClient(server.database.ownerUrl, (client) => client.query('select personal from audit_events where id = $1', [eventId]));
    expect(stored.rows[0].personal).toEqual({ erased: true, pseudonym: 'erased-race' });
  } finally {
    await writer.end();
    await eraser.end();
  }
});
