/**
 * A revoked credential leaves nothing of itself behind (attacker review): a key or an external
 * identity may not register an identity provider, and what it made (API keys, invitations)
 * ends when the key is revoked or its provider disabled or removed. The identity provider is
 * an inline JWKS whose private key the test holds, so tokens are really signed and verified.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { addMember, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { externalToken, newKey, type SigningKey } from '../support/identity-provider.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const REGISTER = 'mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id registeredBy { email } } }';
const SET_ENABLED = 'mutation($id: ID!, $enabled: Boolean!) { updateIdentityProvider(id: $id, input: { enabled: $enabled }) { enabled } }';
const REMOVE_PROVIDER = 'mutation($id: ID!) { removeIdentityProvider(id: $id) { id } }';
const CREATE_KEY = 'mutation { createApiKey(input: { name: "minted", scopes: [READ, WRITE, ADMIN] }) { secret apiKey { id } } }';
const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }';
const INVITE = 'mutation($email: String!) { inviteMember(email: $email, role: ADMIN) { token invitation { id } } }';
const ACCEPT = 'mutation($token: String!) { acceptInvitation(token: $token, password: "a long enough passphrase") { role } }';
const VIEWER = '{ viewer { kind role } }';

type Credential = { token?: string; headers?: Record<string, string> };
const asKey = (secret: string): Credential => ({ headers: { 'x-api-key': secret } });
const call = (as: Credential, query: string, variables?: Record<string, unknown>) => server.graphql(query, { ...as, variables });

/** The attacker's own provider: an inline key set whose private key they hold, for a far-off expiry. */
async function evilProviderInput() {
  const key = await newKey('evil-1', 'RS256');
  return { name: 'Evil', issuer: `https://${randomUUID()}.evil.test`, audience: 'sluice', jwks: { keys: [key.jwk] }, defaultRole: 'ADMIN' };
}

/** An OWNER's provider P1 whose tokens in group `admins` act as ADMIN; `sign` issues one. */
async function providerOf(owner: SignedUp) {
  const key: SigningKey = await newKey('p1', 'RS256');
  const issuer = `https://${randomUUID()}.partner.test`;
  const { body } = await call({ token: owner.accessToken }, REGISTER, {
    input: { name: 'P1', issuer, audience: 'sluice', jwks: { keys: [key.jwk] }, roleClaim: 'groups', roleMapping: { admins: 'ADMIN' } },
  });
  expect(body.errors).toBeUndefined();
  const sign = async (): Promise<Credential> => ({ token: await externalToken(key, { groups: ['admins'], email: 'x@partner.test' }, { issuer, audience: 'sluice' }) });
  return { id: body.data.registerIdentityProvider.id as string, sign };
}

async function mintKey(as: Credential) {
  const { body } = await call(as, CREATE_KEY);
  expect(body.errors).toBeUndefined();
  return { secret: body.data.createApiKey.secret as string, id: body.data.createApiKey.apiKey.id as string };
}

async function inviteAdmin(as: Credential) {
  const { body } = await call(as, INVITE, { email: uniqueEmail('invitee') });
  expect(body.errors).toBeUndefined();
  return { token: body.data.inviteMember.token as string, id: body.data.inviteMember.invitation.id as string };
}

async function expectRefusedInvitation(token: string) {
  const { body } = await call({}, ACCEPT, { token });
  expect(body.data?.acceptInvitation ?? null).toBeNull();
  expect(body.errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'invalid' });
}

/** [target id, reason] of the tenant's automatic revocations of keys and invitations (an invitation's id is its row id already), once `count` are written. */
async function revocations(owner: SignedUp, count: number) {
  const read = async () => {
    const events = await Promise.all(['config.apiKey.revoke', 'config.member.invitation.revoke'].map((action) => auditEventsOf(server, owner.accessToken, 0, { action })));
    return events.flat().filter((event) => event.details.after.reason).map((event) => [event.details.target.id, event.details.after.reason]).sort();
  };
  return pollUntil(read, (found) => found.length >= count, { failure: (found) => `automatic revocations: ${JSON.stringify(found)}` });
}


describe('registering or enabling an identity provider', () => {
  it('is refused to an external identity, even one acting as ADMIN (repro A)', async () => {
    const owner = await signUp(server, { tenantName: 'External registers provider' });
    const p1 = await providerOf(owner);
    const external = await p1.sign();
    expect((await call(external, VIEWER)).body.data.viewer).toEqual({ kind: 'EXTERNAL', role: 'ADMIN' });

    const { body } = await call(external, REGISTER, { input: await evilProviderInput() });
    expect(body.data?.registerIdentityProvider ?? null).toBeNull();
    expect(body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'person-required' });
    const disabled = await call({ token: owner.accessToken }, SET_ENABLED, { id: p1.id, enabled: false });
    expect(disabled.body.data.updateIdentityProvider.enabled).toBe(false);
    expect((await call(external, SET_ENABLED, { id: p1.id, enabled: true })).status).toBe(401);
  });

  it('is refused to an API key, even an ADMIN key of an OWNER (repro B)', async () => {
    const owner = await signUp(server, { tenantName: 'Key registers provider' });
    const key = await mintKey({ token: owner.accessToken });
    const { body } = await call(asKey(key.secret), REGISTER, { input: await evilProviderInput() });
    expect(body.data?.registerIdentityProvider ?? null).toBeNull();
    expect(body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'person-required' });

    const p1 = await providerOf(owner);
    await call({ token: owner.accessToken }, SET_ENABLED, { id: p1.id, enabled: false });
    const enabled = await call(asKey(key.secret), SET_ENABLED, { id: p1.id, enabled: true });
    expect(enabled.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'person-required' });
  });

  it('is for an OWNER: an ADMIN could otherwise sign tokens that never expire', async () => {
    const owner = await signUp(server, { tenantName: 'Admin registers provider' });
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const { body } = await call({ token: admin.accessToken }, REGISTER, { input: await evilProviderInput() });
    expect(body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'owner-required' });
    const p1 = await providerOf(owner);
    await call({ token: owner.accessToken }, SET_ENABLED, { id: p1.id, enabled: false });
    const enabled = await call({ token: admin.accessToken }, SET_ENABLED, { id: p1.id, enabled: true });
    expect(enabled.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'owner-required' });
  });
});

describe('what a credential made', () => {
  it('ends when the key that made it is revoked: keys (down the line) and invitations', async () => {
    const owner = await signUp(server, { tenantName: 'Key revoked' });
    const parent = await mintKey({ token: owner.accessToken });
    const child = await mintKey(asKey(parent.secret));
    const grandchild = await mintKey(asKey(child.secret));
    const invitation = await inviteAdmin(asKey(child.secret));
    const kept = await mintKey({ token: owner.accessToken });
    expect((await call(asKey(grandchild.secret), VIEWER)).body.data.viewer).toEqual({ kind: 'API_KEY', role: 'ADMIN' });

    expect((await call({ token: owner.accessToken }, REVOKE_KEY, { id: parent.id })).body.errors).toBeUndefined();

    for (const secret of [parent.secret, child.secret, grandchild.secret]) expect((await call(asKey(secret), VIEWER)).status).toBe(401);
    await expectRefusedInvitation(invitation.token);
    expect((await call(asKey(kept.secret), VIEWER)).status).toBe(200);
    expect(await revocations(owner, 3)).toEqual(
      [
        [databaseIdOf(child.id), 'parent-key-revoked'],
        [databaseIdOf(grandchild.id), 'parent-key-revoked'],
        [invitation.id, 'parent-key-revoked'],
      ].sort(),
    );
  });

  it("ends when its identity provider is disabled, and stays ended when it is enabled again", async () => {
    const owner = await signUp(server, { tenantName: 'Provider disabled' });
    const p1 = await providerOf(owner);
    const key = await mintKey(await p1.sign());
    const minted = await mintKey(asKey(key.secret));
    const invitation = await inviteAdmin(await p1.sign());

    await call({ token: owner.accessToken }, SET_ENABLED, { id: p1.id, enabled: false });
    await call({ token: owner.accessToken }, SET_ENABLED, { id: p1.id, enabled: true });

    expect((await call(await p1.sign(), VIEWER)).body.data.viewer.role).toBe('ADMIN');
    for (const secret of [key.secret, minted.secret]) expect((await call(asKey(secret), VIEWER)).status).toBe(401);
    await expectRefusedInvitation(invitation.token);
    expect(await revocations(owner, 3)).toEqual(
      [
        [databaseIdOf(key.id), 'provider-disabled'],
        [databaseIdOf(minted.id), 'provider-disabled'],
        [invitation.id, 'provider-disabled'],
      ].sort(),
    );
  });

  it('ends when its identity provider is removed', async () => {
    const owner = await signUp(server, { tenantName: 'Provider removed' });
    const p1 = await providerOf(owner);
    const key = await mintKey(await p1.sign());
    const invitation = await inviteAdmin(await p1.sign());

    expect((await call({ token: owner.accessToken }, REMOVE_PROVIDER, { id: p1.id })).body.errors).toBeUndefined();

    expect((await call(asKey(key.secret), VIEWER)).status).toBe(401);
    await expectRefusedInvitation(invitation.token);
    expect(await revocations(owner, 2)).toEqual([[databaseIdOf(key.id), 'provider-removed'], [invitation.id, 'provider-removed']].sort());
  });
});
