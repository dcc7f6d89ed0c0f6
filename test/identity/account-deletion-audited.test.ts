/**
 * Deleting one's account is, in every tenant one shares with others, a removal the tenant can
 * read on its own trail. Before, erase_user revoked the person's keys and dropped their
 * membership in SQL, and the other tenant's owner found nothing on its chain but, later, an
 * `auth.credential_refused` when the key was used (attacker review). Now each such tenant gets
 * `config.member.remove` and the ends of what the person handed out (keys, invitations,
 * identity providers), as `removeMember` records them, with the person as the actor; a refused
 * erasure (sole owner) changes and records nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { must } from '../support/endpoints.js';
import { addMember, createApiKey, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { newKey } from '../support/identity-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const MEMBERS = '{ viewer { user { id } tenant { members { edges { node { id user { email } } } } } } }';
const INVITE = 'mutation($email: String!) { inviteMember(email: $email, role: MEMBER) { invitation { id } } }';
const REGISTER = 'mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id } }';
const DELETE = 'mutation($p: String!) { deleteMyAccount(password: $p) }';

async function membershipOf(ownerToken: string, email: string): Promise<string> {
  const { viewer } = await must(server, ownerToken, MEMBERS);
  return databaseIdOf(viewer.tenant.members.edges.find((edge: any) => edge.node.user.email === email).node.id);
}

/**
 * `leaver`, an OWNER of `owner`'s tenant, leaves behind there a key, an invitation and an identity
 * provider. They accept signed in, so their session moves there: `token` is its access token.
 */
async function handOutIn(owner: SignedUp, leaver: SignedUp) {
  const session = await addMember(server, owner.accessToken, 'OWNER', leaver.email, leaver.accessToken);
  const key = await createApiKey(server, session.accessToken, { name: 'leaver-key', scopes: ['READ', 'ADMIN'] });
  const invitation = await must(server, session.accessToken, INVITE, { email: uniqueEmail('invitee') });
  const provider = await must(server, session.accessToken, REGISTER, {
    input: { name: 'Theirs', issuer: `https://${randomUUID()}.example`, audience: 'sluice', jwks: { keys: [(await newKey('k', 'RS256')).jwk] }, defaultRole: 'ADMIN' },
  });
  return {
    secret: key.body.data.createApiKey.secret as string,
    keyId: databaseIdOf(key.body.data.createApiKey.apiKey.id),
    invitationId: invitation.inviteMember.invitation.id as string,
    providerId: databaseIdOf(provider.registerIdentityProvider.id),
    membershipId: await membershipOf(owner.accessToken, leaver.email),
    userId: databaseIdOf((await must(server, session.accessToken, MEMBERS)).viewer.user.id),
    token: session.accessToken as string,
  };
}

/** What a tenant's trail says of the leaver's changes there, once `count` of them are written. */
async function changesBy(ownerToken: string, userId: string, count: number) {
  const events = await auditEventsOf(server, ownerToken, count, { actor: userId, action: 'config.*' }, 10_000, (event) => event.action === 'config.identityProvider.disable');
  return events.filter((event) => /^config\.(member\.remove|apiKey\.revoke|member\.invitation\.revoke|identityProvider\.disable)$/.test(event.action));
}

it("records the person's leaving on the chain of every tenant they shared, not only the platform's", async () => {
  const other = await signUp(server, { tenantName: 'The other tenant' });
  const leaver = await signUp(server, { tenantName: 'Leaver home' });
  // Their home tenant is shared too: a second owner there reads its trail.
  const colleague = await addMember(server, leaver.accessToken, 'OWNER');
  const there = await handOutIn(other, leaver);

  expect((await must(server, there.token, DELETE, { p: leaver.password })).deleteMyAccount).toBe(true);

  const trail = await changesBy(other.accessToken, there.userId, 4);
  expect(trail.map((event) => [event.action, event.actorKind, event.actorId, event.details.target, event.details.after?.reason ?? null])).toEqual([
    ['config.member.remove', 'user', there.userId, { type: 'Membership', id: there.membershipId }, null],
    ['config.apiKey.revoke', 'user', there.userId, { type: 'ApiKey', id: there.keyId }, 'creator-removed'],
    ['config.member.invitation.revoke', 'user', there.userId, { type: 'Invitation', id: there.invitationId }, 'inviter-removed'],
    ['config.identityProvider.disable', 'user', there.userId, { type: 'IdentityProvider', id: there.providerId }, 'registrar-removed'],
  ]);
  expect(trail[0]!.details.before).toEqual({ userId: there.userId, role: 'OWNER' });
  // Written after the erasure: pseudonymised like the rest of the person's events.
  expect(JSON.stringify(trail)).not.toContain(leaver.email);
  expect((await server.graphql('{ viewer { kind } }', { headers: { 'x-api-key': there.secret } })).status).toBe(401);
  expect((await must(server, other.accessToken, '{ verifyAuditChain { ok problem } }')).verifyAuditChain).toEqual({ ok: true, problem: null });

  // The home tenant, shared with the colleague, shows the removal as well.
  const home = await auditEventsOf(server, colleague.accessToken, 1, { action: 'config.member.remove', actor: there.userId });
  expect(home.map((event) => [event.actorId, event.details.before])).toEqual([[there.userId, { userId: there.userId, role: 'OWNER' }]]);
});

it('changes and records nothing in the other tenants when the erasure is refused (sole owner)', async () => {
  const other = await signUp(server, { tenantName: 'Kept tenant' });
  const leaver = await signUp(server, { tenantName: 'Sole owner home' });
  await addMember(server, leaver.accessToken, 'MEMBER');
  const there = await handOutIn(other, leaver);

  const refused = await server.graphql(DELETE, { token: there.token, variables: { p: leaver.password } });
  expect(refused.body.errors[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'SOLE_OWNER', tenants: [leaver.tenant.slug] });

  // Still a member there, the key still works, and nothing of a removal is on the trail: an
  // event the owner causes afterwards is written after anything the refusal could have queued.
  expect(await membershipOf(other.accessToken, leaver.email)).toBe(there.membershipId);
  expect((await server.graphql('{ viewer { kind } }', { headers: { 'x-api-key': there.secret } })).body.data.viewer).toEqual({ kind: 'API_KEY' });
  // The owner's second invitation (its first let the leaver in): once it is on the trail,
  // everything recorded before it is too (the writer keeps the order things were recorded in).
  await must(server, other.accessToken, INVITE, { email: uniqueEmail('marker') });
  const ownerId = databaseIdOf((await must(server, other.accessToken, MEMBERS)).viewer.user.id);
  await auditEventsOf(server, other.accessToken, 2, { action: 'config.member.invite', actor: ownerId });
  const trail = await auditEventsOf(server, other.accessToken, 1, { action: 'config.*' });
  expect(trail.filter((event) => event.actorId === there.userId).map((event) => event.action)).toEqual(['config.member.join', 'config.apiKey.create', 'config.member.invite', 'config.identityProvider.register']);
});
