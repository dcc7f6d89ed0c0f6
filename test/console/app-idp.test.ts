/**
 * Signing in to the console with an external identity provider's token, in a real headless
 * Chromium against the real server and PostgreSQL, every other host refused. The owner
 * registers the provider in the identity providers view (a key set that is not JSON refused
 * first) with an inline JWKS made here; the test signs tokens with its private key (jose). An
 * expired token is refused with the API's reason; a valid one shows who it is (subject, email,
 * tenant, mapped role), loads the datasets, follows the audit trail live over graphql-ws as
 * that identity; switch tenant and the account view say why they offer nothing. Sign-out forgets the token; a
 * provider removed mid-session returns to the token's sign-in view with the API's reason.
 * axe-core on each view; screenshots in test-results/console-idp-*.png.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView, expectRefusal, signInThroughConsole } from '../support/console-view.js';
import { must, uniqueSlug } from '../support/endpoints.js';
import { externalToken, newKey, type SigningKey } from '../support/identity-provider.js';

const ISSUER = 'https://sso.harbour-partner.example/';

describeInBrowser('test/console/app-idp', "console sign-in with an identity provider's token", () => {
  const suite = consoleSuite();

  it('registers a provider, signs in with its token, loads views as that identity, and refuses expired or untrusted tokens', { timeout: 240_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Harbour Board' });
    const slug = owner.tenant.slug as string;
    await must(server, owner.accessToken, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Tide tables', slug: uniqueSlug('tides') } });
    const key = await newKey('partner-key-1', 'RS256');
    const audience = `sluice-${uniqueSlug('aud')}`;
    const sign = (options: { expires?: number } = {}) =>
      externalToken(key, { email: 'pat@harbour-partner.example', groups: ['partner-admin'] }, { issuer: ISSUER, audience, ...options });

    const { page, blocked, problems } = await suite.openPage();
    await registerProvider(page, server.baseUrl, owner, key, audience);
    // Read back from the API: the view registered what it showed.
    const listed = await must(server, owner.accessToken, '{ viewer { tenant { identityProviders(first: 10) { edges { node { issuer audience jwks roleClaim roleMapping defaultRole } } } } } }');
    expect(listed.viewer.tenant.identityProviders.edges.map((edge: any) => edge.node)).toEqual([
      { issuer: ISSUER, audience, jwks: { keys: [key.jwk] }, roleClaim: 'groups', roleMapping: { 'partner-admin': 'ADMIN' }, defaultRole: 'VIEWER' },
    ]);
    await signOut(page);

    // An expired token (past the server's 30 s clock skew) is refused with the API's reason.
    await page.getByRole('link', { name: 'Sign in with your identity provider’s token' }).click();
    await page.getByLabel('Token', { exact: true }).fill(await sign({ expires: Math.floor(Date.now() / 1000) - 120 }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refused = await expectRefusal(page, { title: 'The token was refused', code: 'UNAUTHENTICATED', message: 'External token expired' });
    await checkView(page, 'idp-expired');
    await refused.getByRole('button', { name: 'Dismiss this error' }).click();
    // A valid token naming a tenant that does not trust its issuer: the tenant is sent (X-Sluice-Tenant).
    await page.getByLabel('Token', { exact: true }).fill(await sign());
    await page.getByLabel('Tenant', { exact: true }).fill('another-board');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await refused.filter({ hasText: 'Invalid external token' }).waitFor();
    await refused.getByRole('button', { name: 'Dismiss this error' }).click();
    await page.getByRole('link', { name: 'Sign in with email and password' }).click();

    // A valid token, naming the tenant (sent as X-Sluice-Tenant): who it is, as the API says.
    await signInWithToken(page, await sign(), slug);
    const facts = page.locator('#external-identity-facts');
    expect(await facts.locator('[data-field="subject"]').innerText()).toBe('partner-user-1');
    expect(await facts.locator('[data-field="email"]').innerText()).toBe('pat@harbour-partner.example');
    expect(await facts.locator('[data-field="issuer"]').innerText()).toBe(ISSUER);
    expect(await facts.locator('[data-field="tenant"]').innerText()).toBe(`Harbour Board (${slug})`);
    expect(await facts.locator('[data-field="role"]').innerText()).toBe('ADMIN');
    await checkView(page, 'idp-signed-in');
    const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.app') ?? 'null'));
    expect(stored).toMatchObject({ kind: 'external', tenantHint: slug, role: 'ADMIN' });
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    // The token is the bearer of every request: the tenant's datasets load.
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    await page.getByRole('cell', { name: 'Tide tables' }).waitFor();
    expect(await page.locator('#account-menu').innerText()).toContain('Harbour Board · pat@harbour-partner.example');
    await networkSettled(page);

    // …and of the WebSocket: the audit trail's live tail, subscribed as the external identity.
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.locator('#audit-table tbody tr, #audit-empty').first().waitFor();
    await page.getByLabel('Live tail').check();
    await page.getByRole('status').filter({ hasText: 'Live: new events appear' }).waitFor();
    const subscribed = await auditEventsOf(server, owner.accessToken, 1, { action: 'graphql.subscription' }, 15_000, (event) => event.details?.operationName === 'AuditEventsLive');
    expect(subscribed.find((event) => event.details?.operationName === 'AuditEventsLive')).toMatchObject({ actorKind: 'external', actorEmail: 'pat@harbour-partner.example' });
    await must(server, owner.accessToken, 'mutation TailedForPartner($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Berths', slug: uniqueSlug('berths') } });
    await page.locator('#audit-table tbody tr').filter({ hasText: 'TailedForPartner' }).first().waitFor({ timeout: 15_000 });
    await page.getByLabel('Live tail').uncheck();
    await networkSettled(page);

    // An ADMIN identity lists the providers but may not register one: the view says so, no form.
    await page.getByRole('link', { name: 'Identity providers' }).click();
    await page.locator('#identity-providers-owners-only').filter({ hasText: 'Only an owner, signed in with email and password' }).waitFor();
    await page.locator('#identity-providers-table tbody tr').first().waitFor();
    expect(await page.locator('#identity-providers-table tbody tr').count()).toBe(1);
    expect(await page.locator('#register-provider-form').count()).toBe(0);

    // Switch tenant needs a user: it says why instead of failing.
    await page.locator('#account-menu').click();
    await page.getByRole('link', { name: 'Switch tenant' }).click();
    await page.locator('#switch-tenant-external').filter({ hasText: 'has no Sluice account behind it' }).waitFor();
    // No error: the tenants query the API would refuse (FORBIDDEN, NOT_A_USER) is not even sent.
    expect(await page.locator('.alert-danger').count()).toBe(0);
    await checkView(page, 'idp-switch-tenant');
    await page.locator('#account-menu').click();
    await page.getByRole('link', { name: 'Your account' }).click();
    await page.locator('#account-external').filter({ hasText: 'your account is your identity provider’s' }).waitFor();
    expect(await page.getByRole('button', { name: 'Download my data' }).count()).toBe(0);
    expect(await page.locator('.alert-danger').count()).toBe(0);

    // Sign-out forgets the token.
    await signOut(page);
    expect(await page.evaluate(() => sessionStorage.getItem('sluice.console.app'))).toBeNull();

    // A provider removed mid-session: the next request is refused, and the view says why.
    await signInWithToken(page, await sign(), '');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('cell', { name: 'Tide tables' }).waitFor();
    await networkSettled(page);
    const [provider] = (await must(server, owner.accessToken, '{ viewer { tenant { identityProviders(first: 1) { edges { node { id } } } } } }')).viewer.tenant.identityProviders.edges;
    await must(server, owner.accessToken, 'mutation($id: ID!) { removeIdentityProvider(id: $id) { id } }', { id: provider.node.id });
    await page.getByRole('link', { name: 'Models' }).click();
    const ended = page.getByRole('alert').filter({ hasText: 'Your identity provider’s token was refused' });
    await ended.waitFor();
    expect(await ended.innerText()).toContain('Invalid external token (UNAUTHENTICATED)');
    expect(new URL(page.url()).pathname).toBe('/console/sign-in/token');
    await checkView(page, 'idp-refused');

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});

/** The owner registers the provider in the console: a key set that is not JSON is refused first. */
async function registerProvider(page: Page, baseUrl: string, owner: { email: string; password: string }, key: SigningKey, audience: string) {
  await signInThroughConsole(page, baseUrl, owner);
  await networkSettled(page);
  await page.getByRole('link', { name: 'Identity providers' }).click();
  await page.locator('#identity-providers-empty').filter({ hasText: 'No identity providers yet' }).waitFor();
  const form = page.locator('#register-provider-form');
  await form.getByLabel('Name').fill('Harbour partner SSO');
  await form.getByLabel('Issuer').fill(ISSUER);
  await form.getByLabel('Audience').fill(audience);
  await form.getByLabel('Key set (JSON)').fill('{"keys": [');
  await form.getByLabel('Role claim').fill('groups');
  await form.getByLabel('Role mapping').fill('partner-admin = ADMIN');
  await form.getByRole('button', { name: 'Register provider' }).click();
  const refused = await expectRefusal(page, { title: 'Could not register the identity provider', code: 'BAD_USER_INPUT', message: 'jwks: not JSON' });
  await checkView(page, 'idp-register-refused');
  await refused.getByRole('button', { name: 'Dismiss this error' }).click();
  await form.getByLabel('Key set (JSON)').fill(JSON.stringify({ keys: [key.jwk] }));
  await form.getByRole('button', { name: 'Register provider' }).click();
  const row = page.locator('#identity-providers-table tbody tr');
  await row.waitFor();
  expect(await row.getAttribute('data-issuer')).toBe(ISSUER);
  expect(await row.locator('[data-field="roles"]').innerText()).toBe('partner-admin → ADMIN; otherwise VIEWER');
  // The form is emptied for the next one.
  expect(await form.getByLabel('Issuer').inputValue()).toBe('');
  await checkView(page, 'idp-providers');
}

async function signInWithToken(page: Page, token: string, tenant: string) {
  await page.getByRole('link', { name: 'Sign in with your identity provider’s token' }).click();
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByLabel('Tenant', { exact: true }).fill(tenant);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Signed in with your identity provider’s token' }).waitFor();
}

async function signOut(page: Page) {
  await networkSettled(page);
  await page.locator('#account-menu').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}
