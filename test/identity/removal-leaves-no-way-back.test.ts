/**
 * Removing or demoting a member ends what they could hand out: their pending invitations and
 * the identity providers they registered (security review: a removed ADMIN accepted their own
 * ADMIN invitation, and kept signing EXTERNAL ADMIN tokens with a provider they registered),
 * and removal ends their sessions in the tenant (attacker review: invited back, the old access
 * and refresh tokens worked again).
 */
import { decodeJwt } from 'jose';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { addMember, codeOf, refresh, signUp, uniqueEmail } from '../support/identity.js';
import { externalToken, newKey } from '../support/identity-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const INVITE = 'mutation($email: String!, $role: Role!) { inviteMember(email: $email, role: $role) { token invitation { id } } }';
const ACCEPT = 'mutation($token: String!, $password: String) { acceptInvitation(token: $token, password: $password) { role } }';
const UPDATE = 'mutation($m: ID!, $role: Role!) { updateMemberRole(membership: $m, role: $role) { role } }';
const REMOVE = 'mutation($m: ID!) { removeMember(membership: $m) }';
const MEMBERS = '{ viewer { tenant { members { edges { node { id user { email } } } } } } }';
const REGISTER = 'mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id registeredBy { email } } }';
const PROVIDERS = '{ viewer { tenant { identityProviders { edges { node { id enabled disabledReason registeredBy { email } } } } } } }';
const SET_ENABLED = 'mutation($id: ID!, $enabled: Boolean!) { updateIdentityProvider(id: $id, input: { enabled: $enabled }) { enabled disabledReason registeredBy { email } } }';
const VIEWER = '{ viewer { kind role tenant { slug } } }';
const PASSWORD = 'a long enough passphrase';

async function membershipOf(token: string, email: string): Promise<string> {
  const { body } = await server.graphql(MEMBERS, { token });
  return body.data.viewer.tenant.members.edges.find((edge: any) => edge.node.user.email === email).node.id;
}

async function invite(token: string, role: string) {
  const { body } = await server.graphql(INVITE, { token, variables: { email: uniqueEmail('invitee'), role } });
  expect(body.errors).toBeUndefined();
  return { token: body.data.inviteMember.token as string, id: body.data.inviteMember.invitation.id as string };
}

const accept = (token: string) => server.graphql(ACCEPT, { variables: { token, password: PASSWORD } });

async function tenantWithAdmin(name: string) {
  const owner = await signUp(server, { tenantName: name });
  const admin = await addMember(server, owner.accessToken, 'ADMIN');
  return { owner, admin, membership: await membershipOf(owner.accessToken, admin.email) };
}

describe("a removed member's sessions", () => {
  it('end with the removal: invited back, the old access and refresh tokens stay refused', async () => {
    const owner = await signUp(server, { tenantName: 'Sessions after removal' });
    const erin = await signUp(server, { tenantName: "Erin's own" });
    const old = await addMember(server, owner.accessToken, 'MEMBER', erin.email);
    expect((await server.graphql(VIEWER, { token: old.accessToken })).body.data.viewer.role).toBe('MEMBER');

    const removed = await server.graphql(REMOVE, { token: owner.accessToken, variables: { m: await membershipOf(owner.accessToken, erin.email) } });
    expect(removed.body.errors).toBeUndefined();
    expect((await server.graphql(VIEWER, { token: old.accessToken })).status).toBe(401);

    // Invited back: a new session works; the old one does not come back.
    const again = await addMember(server, owner.accessToken, 'MEMBER', erin.email);
    expect((await server.graphql(VIEWER, { token: again.accessToken })).body.data.viewer.role).toBe('MEMBER');
    expect((await server.graphql(VIEWER, { token: old.accessToken })).status).toBe(401);
    expect(codeOf((await refresh(server, old.refreshToken)).body)).toBe('UNAUTHENTICATED');
    // Her session in her own tenant was never the removed membership's: it carries on.
    expect((await server.graphql(VIEWER, { token: erin.accessToken })).body.data.viewer.role).toBe('OWNER');
    expect((await refresh(server, erin.refreshToken)).body.data.refreshSession.role).toBe('OWNER');
    // Ended by the removal itself, not only refused while the membership was missing.
    const { rows } = await withClient(server.database.ownerUrl, (client) =>
      client.query('select revoked_reason from sessions where id = $1 and revoked_at is not null', [decodeJwt(old.accessToken).sid]),
    );
    expect(rows).toEqual([{ revoked_reason: 'membership' }]);
  });
});

describe("a member's invitations", () => {
  it('are revoked when the member is removed: a removed ADMIN cannot come back as ADMIN through one', async () => {
    const { owner, admin, membership } = await tenantWithAdmin('Invitation after removal');
    const comeback = await invite(admin.accessToken, 'ADMIN');
    const viewer = await invite(admin.accessToken, 'VIEWER');
    expect((await server.graphql(REMOVE, { token: owner.accessToken, variables: { m: membership } })).body.errors).toBeUndefined();

    for (const invitation of [comeback, viewer]) {
      const { body } = await accept(invitation.token);
      expect(body.data?.acceptInvitation ?? null).toBeNull();
      expect(body.errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'invalid' });
    }
    const trail = await auditEventsOf(server, owner.accessToken, 2, { action: 'config.member.invitation.revoke' });
    expect(trail.map((event) => [event.details.target.id, event.details.after.reason]).sort()).toEqual(
      [comeback, viewer].map((invitation) => [invitation.id, 'inviter-removed']).sort(),
    );
  });

  it('above the new role are revoked when the member is demoted; the others stay', async () => {
    const { owner, admin, membership } = await tenantWithAdmin('Invitation after demotion');
    const asAdmin = await invite(admin.accessToken, 'ADMIN');
    const asMember = await invite(admin.accessToken, 'MEMBER');
    expect((await server.graphql(UPDATE, { token: owner.accessToken, variables: { m: membership, role: 'MEMBER' } })).body.errors).toBeUndefined();

    expect((await accept(asAdmin.token)).body.errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'invalid' });
    expect((await accept(asMember.token)).body.data.acceptInvitation).toEqual({ role: 'MEMBER' });
    const trail = await auditEventsOf(server, owner.accessToken, 1, { action: 'config.member.invitation.revoke' });
    expect(trail.map((event) => [event.details.target.id, event.details.after.reason])).toEqual([[asAdmin.id, 'inviter-demoted']]);
  });

  it('are refused at acceptance when the inviter left by any other path, or their account is gone', async () => {
    const { owner, admin } = await tenantWithAdmin('Inviter gone');
    const left = await invite(admin.accessToken, 'ADMIN');
    const deleted = await invite(owner.accessToken, 'MEMBER');
    const tenantId = databaseIdOf(owner.tenant.id);
    await withClient(server.database.ownerUrl, async (client) => {
      await client.query('delete from memberships where tenant_id = $1 and user_id = $2', [tenantId, databaseIdOf(admin.user.id)]);
      // What deleting the owner's account leaves (the foreign key sets it null).
      await client.query('update invitations set invited_by_id = null where id = $1', [deleted.id]);
    });
    for (const invitation of [left, deleted]) {
      const { body } = await accept(invitation.token);
      expect(body.data?.acceptInvitation ?? null).toBeNull();
      expect(body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'inviter-gone' });
      expect(body.errors[0].message).toMatch(/can no longer grant the (ADMIN|MEMBER) role here/);
    }
    // Nothing was left behind by the refused acceptance: no account, no membership.
    const count = await withClient(server.database.ownerUrl, async (client) =>
      (await client.query('select count(*)::int as n from memberships where tenant_id = $1', [tenantId])).rows[0].n,
    );
    expect(count).toBe(1);
  });
});

describe('identity providers a member registered', () => {
  /** The registrar is a second OWNER: only an OWNER registers providers; removing or demoting them is the point. */
  async function adminWithProvider(name: string) {
    const owner = await signUp(server, { tenantName: name });
    const registrar = await addMember(server, owner.accessToken, 'OWNER');
    const setup = { owner, admin: registrar, membership: await membershipOf(owner.accessToken, registrar.email) };
    const key = await newKey('m-1', 'RS256');
    const issuer = `https://${randomUUID()}.evil.example`;
    const { body } = await server.graphql(REGISTER, {
      token: setup.admin.accessToken,
      variables: { input: { name: 'Mine', issuer, audience: 'sluice', jwks: { keys: [key.jwk] }, defaultRole: 'ADMIN' } },
    });
    expect(body.data.registerIdentityProvider.registeredBy).toEqual({ email: setup.admin.email });
    const sign = () => externalToken(key, { email: 'm@evil.example' }, { issuer, audience: 'sluice' });
    return { ...setup, key, issuer, providerId: body.data.registerIdentityProvider.id as string, sign };
  }

  const asExternal = async (jwt: string) => server.graphql(VIEWER, { token: jwt });

  it('are disabled when the member is removed, with the keys their tokens minted, until an OWNER enables them again', async () => {
    const { owner, membership, providerId, sign } = await adminWithProvider('Provider after removal');
    expect((await asExternal(await sign())).body.data.viewer).toEqual({ kind: 'EXTERNAL', role: 'ADMIN', tenant: { slug: owner.tenant.slug } });
    const minted = await server.graphql('mutation { createApiKey(input: { name: "x", scopes: [READ, ADMIN] }) { secret } }', { token: await sign() });
    const secret = minted.body.data.createApiKey.secret as string;

    expect((await server.graphql(REMOVE, { token: owner.accessToken, variables: { m: membership } })).body.errors).toBeUndefined();

    const refused = await asExternal(await sign());
    expect(refused.status).toBe(401);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'provider-disabled' });
    expect(refused.body.errors[0].message).toMatch(/identity provider is disabled/);
    // A key minted by one of its identities answers to the person who registered it: revoked too.
    expect((await server.graphql(VIEWER, { headers: { 'x-api-key': secret } })).status).toBe(401);

    const listed = await server.graphql(PROVIDERS, { token: owner.accessToken });
    expect(listed.body.data.viewer.tenant.identityProviders.edges.map((edge: any) => edge.node)).toEqual([
      { id: providerId, enabled: false, disabledReason: 'registrar-removed', registeredBy: null },
    ]);
    const trail = await auditEventsOf(server, owner.accessToken, 1, { action: 'config.identityProvider.disable' });
    expect(trail.map((event) => [event.details.target.id, event.details.after.reason])).toEqual([[databaseIdOf(providerId), 'registrar-removed']]);

    const enabled = await server.graphql(SET_ENABLED, { token: owner.accessToken, variables: { id: providerId, enabled: true } });
    expect(enabled.body.data.updateIdentityProvider).toEqual({ enabled: true, disabledReason: null, registeredBy: { email: owner.email } });
    expect((await asExternal(await sign())).body.data.viewer.role).toBe('ADMIN');
  });

  it('are disabled when the member is demoted below ADMIN, and refused when they leave by any other path', async () => {
    const demoted = await adminWithProvider('Provider after demotion');
    expect((await server.graphql(UPDATE, { token: demoted.owner.accessToken, variables: { m: demoted.membership, role: 'MEMBER' } })).body.errors).toBeUndefined();
    expect((await asExternal(await demoted.sign())).body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'provider-disabled' });
    const trail = await auditEventsOf(server, demoted.owner.accessToken, 1, { action: 'config.identityProvider.disable' });
    expect(trail.map((event) => event.details.after.reason)).toEqual(['registrar-demoted']);

    const vanished = await adminWithProvider('Provider registrar vanished');
    await withClient(server.database.ownerUrl, (client) =>
      client.query('delete from memberships where tenant_id = $1 and user_id = $2', [databaseIdOf(vanished.owner.tenant.id), databaseIdOf(vanished.admin.user.id)]),
    );
    const refused = await asExternal(await vanished.sign());
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'registrar-left' });
  });

  it('cannot be registered by an ADMIN, nor be enabled by someone who could not', async () => {
    const { owner, providerId } = await adminWithProvider('Provider roles');
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const byAdmin = await server.graphql(REGISTER, {
      token: admin.accessToken,
      variables: { input: { name: 'Boss', issuer: `https://${randomUUID()}.evil.example`, audience: 'sluice', jwks: { keys: [(await newKey('b', 'RS256')).jwk] }, defaultRole: 'ADMIN' } },
    });
    expect(byAdmin.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'owner-required' });
    // The provider grants ADMIN: an ADMIN-scoped key of a MEMBER acts as a MEMBER and may not vouch for it.
    const member = await addMember(server, owner.accessToken, 'MEMBER');
    const disabled = await server.graphql(SET_ENABLED, { token: owner.accessToken, variables: { id: providerId, enabled: false } });
    expect(disabled.body.data.updateIdentityProvider).toMatchObject({ enabled: false, disabledReason: 'disabled' });
    const byMember = await server.graphql(SET_ENABLED, { token: member.accessToken, variables: { id: providerId, enabled: true } });
    expect(codeOf(byMember.body)).toBe('FORBIDDEN');
  });
});
