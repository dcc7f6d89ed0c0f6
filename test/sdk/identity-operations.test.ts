/**
 * The SDK's identity operations round-tripped against the real server: sessions, tenant
 * settings, API keys, members and invitations, identity providers.
 * (test/sdk/coverage.test.ts checks that every operation is exercised by some SDK test.)
 */
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from '../../src/sdk/index.js';
import { createClient, type SluiceClient } from '../../src/sdk/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const password = 'a long enough passphrase';
const stamp = Date.now();
const emails = { owner: `sdk-owner-${stamp}@example.test`, other: `sdk-other-${stamp}@example.test` };
let server: TestServer;
let anonymous: SluiceClient;
let owner: SluiceClient;
let tenantSlug: string;

beforeAll(async () => {
  server = await startTestServer({ worker: false });
  anonymous = createClient({ url: server.url });
  const { signUp } = await anonymous.mutate(sdk.SignUpDocument, { input: { email: emails.owner, password, tenantName: 'SDK Ops' } });
  tenantSlug = signUp.tenant!.slug;
  owner = createClient({ url: server.url, credentials: { email: emails.owner, password } });
});
afterAll(async () => {
  await server?.close();
});

describe('identity', () => {
  it('logs in, refreshes, reads the viewer and the tenant settings', async () => {
    const { logIn } = await anonymous.mutate(sdk.LogInDocument, { input: { email: emails.owner, password } });
    expect(logIn).toMatchObject({ role: 'OWNER', user: { email: emails.owner } });
    const { refreshSession } = await anonymous.mutate(sdk.RefreshSessionDocument, { refreshToken: logIn.refreshToken });
    expect(refreshSession.refreshToken).not.toBe(logIn.refreshToken);
    const { viewer } = await owner.query(sdk.ViewerDocument);
    expect(viewer).toMatchObject({ kind: 'USER', email: emails.owner, role: 'OWNER', tenant: { slug: tenantSlug } });
    const { updateTenantSettings } = await owner.mutate(sdk.UpdateTenantSettingsDocument, { input: { name: 'SDK Ops Renamed', rateLimitPerSecond: 50 } });
    expect(updateTenantSettings).toMatchObject({ name: 'SDK Ops Renamed', rateLimitPerSecond: 50 });
    const { viewer: settings } = await owner.query(sdk.TenantSettingsDocument);
    expect(settings.tenant).toMatchObject({ slug: tenantSlug, name: 'SDK Ops Renamed', auditStoreEmails: expect.any(Boolean) });
  });

  it('creates, lists, rotates and revokes API keys; a key authenticates', async () => {
    const { createApiKey } = await owner.mutate(sdk.CreateApiKeyDocument, { input: { name: 'ci', scopes: ['READ'] } });
    expect(createApiKey.apiKey).toMatchObject({ name: 'ci', scopes: ['READ'], revokedAt: null });
    const { viewer: asKey } = await createClient({ url: server.url, apiKey: createApiKey.secret }).query(sdk.ViewerDocument);
    expect(asKey).toMatchObject({ kind: 'API_KEY', apiKey: { id: createApiKey.apiKey.id } });
    const { rotateApiKey } = await owner.mutate(sdk.RotateApiKeyDocument, { id: createApiKey.apiKey.id, gracePeriodSeconds: 60 });
    expect(rotateApiKey.secret).not.toBe(createApiKey.secret);
    const { revokeApiKey } = await owner.mutate(sdk.RevokeApiKeyDocument, { id: rotateApiKey.apiKey.id });
    expect(revokeApiKey.revokedAt).toEqual(expect.any(String));
    const { viewer } = await owner.query(sdk.ApiKeysDocument, { first: 50 });
    const keys = viewer.tenant!.apiKeys.edges.map(({ node }) => node);
    expect(keys.find((key) => key.id === createApiKey.apiKey.id)?.replacedBy?.id).toBe(rotateApiKey.apiKey.id);
    expect(keys.find((key) => key.id === rotateApiKey.apiKey.id)?.revokedAt).toEqual(expect.any(String));
  });

  it('invites, accepts, switches tenant, changes a role and removes a member', async () => {
    const first = await owner.mutate(sdk.InviteMemberDocument, { email: `gone-${stamp}@example.test`, role: 'VIEWER' });
    // Invitations pages on past the first page Members reads: a page of one here, with a cursor.
    const open = await owner.query(sdk.InvitationsDocument, { first: 1 });
    expect(open.viewer.tenant!.invitations.edges.map(({ node }) => node.email)).toEqual([`gone-${stamp}@example.test`]);
    expect(open.viewer.tenant!.invitations.pageInfo).toMatchObject({ hasNextPage: false, endCursor: expect.any(String) });
    expect((await owner.mutate(sdk.RevokeInvitationDocument, { id: first.inviteMember.invitation.id })).revokeInvitation.email).toBe(`gone-${stamp}@example.test`);

    const otherSlug = (await anonymous.mutate(sdk.SignUpDocument, { input: { email: emails.other, password, tenantName: 'Other' } })).signUp.tenant.slug;
    const other = createClient({ url: server.url, credentials: { email: emails.other, password } });
    const { inviteMember } = await owner.mutate(sdk.InviteMemberDocument, { email: emails.other, role: 'MEMBER' });
    const { acceptInvitation } = await other.mutate(sdk.AcceptInvitationDocument, { token: inviteMember.token });
    expect(acceptInvitation.tenant).toMatchObject({ slug: tenantSlug });
    // The acceptance moved the client's session (no second sign-in): it goes on with the tokens returned.
    expect(other.session()).toMatchObject({ accessToken: acceptInvitation.accessToken, refreshToken: acceptInvitation.refreshToken });
    expect((await other.query(sdk.ViewerDocument)).viewer).toMatchObject({ role: 'MEMBER', tenant: { slug: tenantSlug } });
    const { switchTenant: home } = await other.mutate(sdk.SwitchTenantDocument, { tenant: otherSlug });
    expect(home).toMatchObject({ role: 'OWNER', tenant: { slug: otherSlug } });
    expect(other.session()).toMatchObject({ accessToken: home.accessToken, refreshToken: acceptInvitation.refreshToken });
    const { switchTenant } = await other.mutate(sdk.SwitchTenantDocument, { tenant: tenantSlug });
    expect(switchTenant).toMatchObject({ role: 'MEMBER', tenant: { slug: tenantSlug } });
    expect((await other.query(sdk.ViewerDocument)).viewer).toMatchObject({ role: 'MEMBER', tenant: { slug: tenantSlug } });

    const { viewer } = await owner.query(sdk.MembersDocument, { first: 10 });
    const membership = viewer.tenant!.members.edges.find(({ node }) => node.user.email === emails.other)!.node;
    expect(membership.role).toBe('MEMBER');
    expect(viewer.tenant!.invitations!.edges.map(({ node }) => node.email)).not.toContain(`gone-${stamp}@example.test`);
    expect((await owner.mutate(sdk.UpdateMemberRoleDocument, { membership: membership.id, role: 'VIEWER' })).updateMemberRole.role).toBe('VIEWER');
    expect((await owner.mutate(sdk.RemoveMemberDocument, { membership: membership.id })).removeMember).toBe(true);
  });

  it('registers, lists and removes an identity provider', async () => {
    const { publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'sdk-1', alg: 'EdDSA' };
    const issuer = `https://idp-${stamp}.example.test`;
    const { registerIdentityProvider } = await owner.mutate(sdk.RegisterIdentityProviderDocument, { input: { name: 'Partner', issuer, audience: 'sluice', jwks: { keys: [jwk] } } });
    const { viewer } = await owner.query(sdk.IdentityProvidersDocument);
    expect(viewer.tenant!.identityProviders.edges.map(({ node }) => node.issuer)).toContain(issuer);
    const disabled = await owner.mutate(sdk.UpdateIdentityProviderDocument, { id: registerIdentityProvider.id, input: { enabled: false } });
    expect(disabled.updateIdentityProvider).toMatchObject({ name: 'Partner', enabled: false, disabledReason: 'disabled' });
    const enabled = await owner.mutate(sdk.UpdateIdentityProviderDocument, { id: registerIdentityProvider.id, input: { enabled: true } });
    expect(enabled.updateIdentityProvider).toMatchObject({ enabled: true, disabledAt: null, disabledReason: null });
    expect((await owner.mutate(sdk.RemoveIdentityProviderDocument, { id: registerIdentityProvider.id })).removeIdentityProvider.name).toBe('Partner');
  });
});
