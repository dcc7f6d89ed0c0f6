/** Invitations, role changes and removal: single use, expiry, no escalation, one OWNER kept. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { addMember, codeOf, createApiKey, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const INVITE = 'mutation($email: String!, $role: Role!) { inviteMember(email: $email, role: $role) { token invitation { id email role } } }';
const ACCEPT = 'mutation($token: String!, $password: String) { acceptInvitation(token: $token, password: $password) { role tenant { slug } user { email } } }';
const UPDATE = 'mutation($m: ID!, $role: Role!) { updateMemberRole(membership: $m, role: $role) { role } }';
const REMOVE = 'mutation($m: ID!) { removeMember(membership: $m) }';
const MEMBERS = '{ viewer { tenant { members { edges { node { id role user { email } } } } } } }';

async function invite(token: string, role: string, email = uniqueEmail('invitee')) {
  const { body } = await server.graphql(INVITE, { token, variables: { email, role } });
  return { body, email, token: body.data?.inviteMember?.token as string };
}

/** Membership global id of `email` in the caller's tenant. */
async function membershipOf(token: string, email: string): Promise<string> {
  const { body } = await server.graphql(MEMBERS, { token });
  return body.data.viewer.tenant.members.edges.find((edge: any) => edge.node.user.email === email).node.id;
}

describe('invitations', () => {
  let owner: SignedUp;
  beforeAll(async () => {
    owner = await signUp(server, { tenantName: 'Inviters' });
  });

  it('are accepted once, by signing up, into the inviting tenant with the invited role', async () => {
    const invited = await invite(owner.accessToken, 'MEMBER');
    expect(invited.token).toMatch(/^sli_[A-Za-z0-9_-]{43}$/);
    expect(invited.body.data.inviteMember.invitation).toMatchObject({ email: invited.email, role: 'MEMBER' });
    const accepted = await server.graphql(ACCEPT, { variables: { token: invited.token, password: 'a long enough passphrase' } });
    expect(accepted.body.data.acceptInvitation).toEqual({ role: 'MEMBER', tenant: { slug: owner.tenant.slug }, user: { email: invited.email } });
    // The password was set here: the address counts as the new member's for the sign-in limits (docs/operations.md).
    const addresses = await withClient(server.database.ownerUrl, async (client) =>
      (await client.query('select count(*)::int as n from sign_in_addresses a join users u on u.id = a.user_id where u.email = $1', [invited.email])).rows[0].n,
    );
    expect(addresses).toBe(1);
    const again = await server.graphql(ACCEPT, { variables: { token: invited.token, password: 'a long enough passphrase' } });
    expect(codeOf(again.body)).toBe('CONFLICT');
    // The tenant's own trail says who joined, though the invitee asked anonymously (before, only
    // the platform chain had the request's event).
    const joins = await auditEventsOf(server, owner.accessToken, 1, { action: 'config.member.join' });
    const userId = await withClient(server.database.ownerUrl, async (client) => (await client.query('select id from users where email = $1', [invited.email])).rows[0].id);
    expect(joins.map((event) => [event.actorKind, event.details.after])).toEqual([
      ['anonymous', { userId, role: 'MEMBER', invitationId: invited.body.data.inviteMember.invitation.id }],
    ]);
  });

  it('are accepted by an existing account signed in as the invited email, and no other', async () => {
    const person = await signUp(server, { tenantName: 'Elsewhere' });
    const invited = await invite(owner.accessToken, 'VIEWER', person.email);
    // Signed out, the password must be the account's own (test/identity/removed-member-rejoins.test.ts).
    const anonymous = await server.graphql(ACCEPT, { variables: { token: invited.token, password: 'not the account password' } });
    expect(codeOf(anonymous.body)).toBe('UNAUTHENTICATED');
    const noPassword = await server.graphql(ACCEPT, { variables: { token: invited.token } });
    expect(noPassword.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'sign-in' });
    const someoneElse = await signUp(server);
    const wrongPerson = await server.graphql(ACCEPT, { token: someoneElse.accessToken, variables: { token: invited.token } });
    expect(codeOf(wrongPerson.body)).toBe('FORBIDDEN');
    const accepted = await server.graphql(ACCEPT, { token: person.accessToken, variables: { token: invited.token } });
    expect(accepted.body.data.acceptInvitation).toMatchObject({ role: 'VIEWER', tenant: { slug: owner.tenant.slug } });
  });

  it('expire, can be revoked, and unknown tokens are NOT_FOUND', async () => {
    const expired = await invite(owner.accessToken, 'MEMBER');
    await withClient(server.database.ownerUrl, (client) =>
      client.query(`update invitations set expires_at = now() - interval '1 second' where id = $1`, [expired.body.data.inviteMember.invitation.id]),
    );
    expect(codeOf((await server.graphql(ACCEPT, { variables: { token: expired.token, password: 'a long enough passphrase' } })).body)).toBe('BAD_USER_INPUT');

    const revoked = await invite(owner.accessToken, 'MEMBER');
    await server.graphql('mutation($id: ID!) { revokeInvitation(id: $id) { id } }', { token: owner.accessToken, variables: { id: revoked.body.data.inviteMember.invitation.id } });
    expect(codeOf((await server.graphql(ACCEPT, { variables: { token: revoked.token, password: 'a long enough passphrase' } })).body)).toBe('NOT_FOUND');
    expect(codeOf((await server.graphql(ACCEPT, { variables: { token: `sli_${'B'.repeat(43)}`, password: 'a long enough passphrase' } })).body)).toBe('NOT_FOUND');
  });

  it('cannot grant more than the inviter holds', async () => {
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const member = await addMember(server, owner.accessToken, 'MEMBER');
    expect(codeOf((await invite(admin.accessToken, 'OWNER')).body)).toBe('FORBIDDEN');
    expect(codeOf((await invite(admin.accessToken, 'ADMIN')).body)).toBeUndefined();
    expect(codeOf((await invite(member.accessToken, 'VIEWER')).body)).toBe('FORBIDDEN');
    expect(codeOf((await invite(owner.accessToken, 'VIEWER', member.email)).body)).toBe('CONFLICT');
  });
});

describe('roles and removal', () => {
  it('refuse escalation by an ADMIN', async () => {
    const owner = await signUp(server, { tenantName: 'Escalation' });
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const member = await addMember(server, owner.accessToken, 'MEMBER');
    const memberId = await membershipOf(owner.accessToken, member.email);
    const ownerId = await membershipOf(owner.accessToken, owner.email);
    const adminId = await membershipOf(owner.accessToken, admin.email);
    expect(codeOf((await server.graphql(UPDATE, { token: admin.accessToken, variables: { m: memberId, role: 'OWNER' } })).body)).toBe('FORBIDDEN');
    expect(codeOf((await server.graphql(UPDATE, { token: admin.accessToken, variables: { m: adminId, role: 'OWNER' } })).body)).toBe('FORBIDDEN');
    expect(codeOf((await server.graphql(UPDATE, { token: admin.accessToken, variables: { m: ownerId, role: 'VIEWER' } })).body)).toBe('FORBIDDEN');
    expect(codeOf((await server.graphql(REMOVE, { token: admin.accessToken, variables: { m: ownerId } })).body)).toBe('FORBIDDEN');
    expect(codeOf((await server.graphql(UPDATE, { token: member.accessToken, variables: { m: memberId, role: 'ADMIN' } })).body)).toBe('FORBIDDEN');
    const demoted = await server.graphql(UPDATE, { token: admin.accessToken, variables: { m: memberId, role: 'VIEWER' } });
    expect(demoted.body.data.updateMemberRole).toEqual({ role: 'VIEWER' });
  });

  it('keep at least one OWNER', async () => {
    const owner = await signUp(server, { tenantName: 'Owners' });
    const ownerId = await membershipOf(owner.accessToken, owner.email);
    const demote = await server.graphql(UPDATE, { token: owner.accessToken, variables: { m: ownerId, role: 'ADMIN' } });
    expect(demote.body.errors[0]).toMatchObject({ extensions: { code: 'CONFLICT', reason: 'last-owner' } });
    expect(codeOf((await server.graphql(REMOVE, { token: owner.accessToken, variables: { m: ownerId } })).body)).toBe('CONFLICT');

    const second = await addMember(server, owner.accessToken, 'OWNER');
    const secondId = await membershipOf(owner.accessToken, second.email);
    expect((await server.graphql(UPDATE, { token: second.accessToken, variables: { m: ownerId, role: 'ADMIN' } })).body.data.updateMemberRole).toEqual({ role: 'ADMIN' });
    expect(codeOf((await server.graphql(REMOVE, { token: second.accessToken, variables: { m: secondId } })).body)).toBe('CONFLICT');
  });

  it("end a removed member's access at once, and leave foreign memberships alone", async () => {
    const owner = await signUp(server, { tenantName: 'Removal' });
    const member = await addMember(server, owner.accessToken, 'MEMBER');
    const memberId = await membershipOf(owner.accessToken, member.email);
    const stranger = await signUp(server);
    const foreign = await server.graphql(REMOVE, { token: stranger.accessToken, variables: { m: memberId } });
    expect(codeOf(foreign.body)).toBe('NOT_FOUND');
    expect((await server.graphql('{ viewer { role } }', { token: member.accessToken })).body.data.viewer.role).toBe('MEMBER');

    expect((await server.graphql(REMOVE, { token: owner.accessToken, variables: { m: memberId } })).body.data).toEqual({ removeMember: true });
    expect((await server.graphql('{ viewer { role } }', { token: member.accessToken })).status).toBe(401);
  });
});

describe("API keys answer to their creator's current role", () => {
  const STANDING = '{ viewer { role scopes } }';
  const MINT = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }';
  const asKey = (secret: string, query = STANDING, variables?: Record<string, unknown>) => server.graphql(query, { headers: { 'x-api-key': secret }, variables });
  const auditExport = (secret: string) => fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${secret}` } });

  /** An ADMIN with a full key, a key that key minted, and a write-only key. */
  async function adminWithKeys(tenantName: string) {
    const owner = await signUp(server, { tenantName });
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const full = (await createApiKey(server, admin.accessToken, { name: 'full', scopes: ['READ', 'WRITE', 'ADMIN'] })).body.data.createApiKey;
    const minted = (await asKey(full.secret, MINT, { input: { name: 'minted', scopes: ['READ', 'WRITE', 'ADMIN'] } })).body.data.createApiKey;
    const writer = (await createApiKey(server, admin.accessToken, { name: 'writer', scopes: ['WRITE'] })).body.data.createApiKey;
    const membership = await membershipOf(owner.accessToken, admin.email);
    return { owner, admin, membership, keys: [full, minted], writer };
  }

  it('narrow at once when their creator is demoted, on every door, and cannot mint past it', async () => {
    const { owner, membership, keys, writer } = await adminWithKeys('Demoted keys');
    for (const key of keys) expect((await asKey(key.secret)).body.data.viewer).toEqual({ role: 'ADMIN', scopes: ['READ', 'WRITE', 'ADMIN'] });

    await server.graphql(UPDATE, { token: owner.accessToken, variables: { m: membership, role: 'VIEWER' } });
    for (const key of keys) {
      expect((await asKey(key.secret)).body.data.viewer).toEqual({ role: 'VIEWER', scopes: ['READ'] });
      expect(codeOf((await asKey(key.secret, MINT, { input: { name: 'after', scopes: ['READ'] } })).body)).toBe('FORBIDDEN');
      expect((await auditExport(key.secret)).status).toBe(403);
    }
    // Nothing of the write-only key is left to a VIEWER: refused, saying why.
    const refused = await asKey(writer.secret);
    expect([refused.status, refused.body.errors[0]?.message]).toEqual([401, "API key's scopes are beyond its creator's current role"]);

    // The cap is the creator's role now, not a revocation: promoted again, the keys are again what they were made as.
    await server.graphql(UPDATE, { token: owner.accessToken, variables: { m: membership, role: 'ADMIN' } });
    expect((await asKey(keys[0]!.secret)).body.data.viewer).toEqual({ role: 'ADMIN', scopes: ['READ', 'WRITE', 'ADMIN'] });
  });

  it('are revoked, with a trail, when their creator is removed, and stay revoked if they come back', async () => {
    const { owner, admin, membership, keys, writer } = await adminWithKeys('Removed keys');
    const stranger = await adminWithKeys('Unrelated keys');

    expect((await server.graphql(REMOVE, { token: owner.accessToken, variables: { m: membership } })).body.data).toEqual({ removeMember: true });
    for (const key of [...keys, writer]) {
      const refused = await asKey(key.secret);
      expect([refused.status, refused.body.errors[0]?.message]).toEqual([401, 'API key revoked']);
      expect((await auditExport(key.secret)).status).toBe(401);
    }
    const listed = await server.graphql('{ viewer { tenant { apiKeys { edges { node { id revokedAt } } } } } }', { token: owner.accessToken });
    const revoked = listed.body.data.viewer.tenant.apiKeys.edges.filter((edge: any) => edge.node.revokedAt).map((edge: any) => edge.node.id);
    expect(revoked.sort()).toEqual([...keys, writer].map((key) => key.apiKey.id).sort());
    const trail = await auditEventsOf(server, owner.accessToken, 3, { action: 'config.apiKey.revoke' });
    expect(trail.map((event) => [event.details.target.id, event.details.after.reason]).sort()).toEqual(
      [...keys, writer].map((key) => [databaseIdOf(key.apiKey.id), 'creator-removed']).sort(),
    );

    // A member again, the person has their role back, not their old keys.
    await withClient(server.database.ownerUrl, (client) =>
      client.query(`insert into memberships (id, tenant_id, user_id, role, created_at) values (gen_random_uuid(), $1, $2, 'ADMIN', now())`, [databaseIdOf(owner.tenant.id), databaseIdOf(admin.user.id)]),
    );
    expect((await asKey(keys[0]!.secret)).status).toBe(401);
    // Another tenant's ADMIN and keys are untouched.
    expect((await asKey(stranger.keys[0]!.secret)).body.data.viewer).toEqual({ role: 'ADMIN', scopes: ['READ', 'WRITE', 'ADMIN'] });
  });

  it("stop when their creator's membership ends by any path, not only removeMember", async () => {
    const { owner, admin, keys } = await adminWithKeys('Vanished creator');
    await withClient(server.database.ownerUrl, (client) =>
      client.query('delete from memberships where tenant_id = $1 and user_id = $2', [databaseIdOf(owner.tenant.id), databaseIdOf(admin.user.id)]),
    );
    for (const key of keys) {
      const refused = await asKey(key.secret);
      expect([refused.status, refused.body.errors[0]?.message]).toEqual([401, 'API key of a former member']);
    }
  });
});
