/**
 * The console application (/console) in a real headless Chromium against the real server,
 * worker and PostgreSQL, with every request to another host refused: sign up (a refused
 * password first), the empty datasets view, create a dataset (a refused slug first, its error
 * staying until dismissed), see it listed, its detail with documents, its settings, deleting it (asked first), switch tenant (refused,
 * then to a tenant the user was invited to), a narrow screen's menu, sign out.
 *
 * Every view is checked with axe-core (test/support/console-view.ts): no serious or critical
 * violation. Any console error, page error, CSP violation or request to another host fails
 * the test. Screenshots of each view: test-results/console-*.png (docs/console.md shows them).
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView as view, expectNoSidewaysScroll } from '../support/console-view.js';
import { networkSettled } from '../support/browser.js';
import { addMember, uniqueEmail } from '../support/identity.js';
import { ingestInline, settled } from '../support/ingestion.js';

describeInBrowser('test/console/app', 'the console application', () => {
  const suite = consoleSuite();

  it('walks sign up → create a dataset → see it listed and in detail → switch tenant → sign out', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const { page, blocked, problems } = await suite.openPage({ viewport: { width: 1200, height: 800 } });
    const email = uniqueEmail('console');
    // Signed out, every view leads to the sign-in form.
    await page.goto(`${server.baseUrl}/console/datasets`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    await view(page, 'sign-in');

    // Sign up: a password too short is refused and said; then the account and its tenant.
    await page.getByRole('link', { name: 'Sign up' }).click();
    // The sign-in form has an Email field too: filling before the new view shows fills that one.
    await page.getByRole('heading', { name: 'Create an account', level: 1 }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('short');
    await page.getByLabel('Organisation').fill('Harbour Works');
    await page.getByRole('button', { name: 'Sign up' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'Could not sign up' });
    await refusal.filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    expect(await refusal.innerText()).toMatch(/password/i);
    await view(page, 'sign-up');
    await page.getByLabel('Password').fill('a long enough passphrase');
    await page.getByRole('button', { name: 'Sign up' }).click();

    // The empty datasets view says what to do next.
    await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/datasets');
    await page.locator('#datasets-empty').filter({ hasText: 'No datasets yet' }).waitFor();
    expect(await page.getByRole('button', { name: new RegExp(`Harbour Works · ${email}`) }).isVisible()).toBe(true);
    await view(page, 'datasets-empty');

    // A refused slug: the error names the field and stays (a later success does not clear it) until dismissed.
    await page.getByLabel('Name', { exact: true }).fill('Scratch');
    await page.getByLabel('Slug').fill('Not A Slug!');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    const createError = page.getByRole('alert').filter({ hasText: 'Could not create the dataset' });
    await createError.filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    expect(await createError.innerText()).toMatch(/slug/);

    // Create one (the slug made from the name), and see it listed.
    await page.getByLabel('Name', { exact: true }).fill('Lighthouse handbook');
    await page.getByLabel('Slug').fill('');
    await page.getByLabel('Description').fill('How the keepers run the light.');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    const row = page.locator('#datasets-table tr[data-slug="lighthouse-handbook"]');
    await row.waitFor();
    expect(await row.locator('td').allInnerTexts()).toEqual(['Lighthouse handbook', 'lighthouse-handbook', '0', '0', '0 B', 'never']);
    expect(await createError.isVisible()).toBe(true);
    await view(page, 'datasets');
    await createError.getByRole('button', { name: 'Dismiss this error' }).click();
    await createError.waitFor({ state: 'detached' });

    // Its detail: no documents yet; then two documents ingested (through the API) are listed.
    await row.getByRole('link', { name: 'Lighthouse handbook' }).click();
    await page.getByRole('heading', { name: 'Lighthouse handbook', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/datasets/lighthouse-handbook');
    await page.locator('#documents-empty').filter({ hasText: 'No documents yet' }).waitFor();
    await view(page, 'dataset-empty');
    const token = await accessToken(page);
    const datasetId = (await server.graphql('{ dataset(slug: "lighthouse-handbook") { id } }', { token })).body.data.dataset.id;
    const job = await ingestInline(server, token, datasetId, [
      { title: 'Lamp care', text: 'The keeper winds the clockwork lamp every evening at dusk.' },
      { title: 'Fog signals', text: 'Fog horns sound when the harbour is blind.' },
    ]);
    expect((await settled(server, token, job.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    await networkSettled(page);
    await page.reload();
    await page.locator('#documents-table tbody tr').nth(1).waitFor();
    expect((await page.locator('#documents-table tbody tr td:first-child').allInnerTexts()).sort()).toEqual(['Fog signals', 'Lamp care']);
    expect(await page.locator('#dataset-facts dd[data-field="documents"]').innerText()).toBe('2');
    await view(page, 'dataset');

    // Its settings: a refused slug is said; a new name and slug are saved, and the address follows.
    await page.getByLabel('Slug').fill('Bad Slug');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('alert').filter({ hasText: 'Could not save the settings' }).filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    await page.getByLabel('Name').fill('Keepers handbook');
    await page.getByLabel('Slug').fill('keepers-handbook');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('heading', { name: 'Keepers handbook', level: 1 }).waitFor();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/console/datasets/keepers-handbook');
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await page.locator('#dataset-facts dd[data-field="documents"]').innerText()).toBe('2');
    expect((await server.graphql('{ dataset(slug: "keepers-handbook") { id name } }', { token })).body.data.dataset).toEqual({ id: datasetId, name: 'Keepers handbook' });

    // Deleting asks first: "Keep it" keeps it; "Delete" deletes it and returns to the (empty) list.
    await page.getByRole('button', { name: 'Delete dataset' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete “Keepers handbook”?' });
    await confirm.waitFor();
    expect(await confirm.innerText()).toContain('Its 2 documents and 2 chunks are deleted with it');
    // The window as it is (a full-page shot would cut the fixed backdrop at the window's height).
    await view(page, 'dataset-delete', { fullPage: false });
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect((await server.graphql('{ dataset(slug: "keepers-handbook") { id } }', { token })).body.data.dataset).toEqual({ id: datasetId });
    await page.getByRole('button', { name: 'Delete dataset' }).click();
    await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('#datasets-empty').filter({ hasText: 'No datasets yet' }).waitFor();
    expect((await server.graphql('{ dataset(slug: "keepers-handbook") { id } }', { token })).body.data.dataset).toBeNull();

    // Switch tenant: the list holds the user's own tenants only (the current one marked, no
    // button); once invited to another, it is listed with the role there, and choosing it switches.
    const other = await suite.signUp({ tenantName: 'Tide Office' });
    await page.getByRole('button', { name: /Harbour Works/ }).click();
    await page.getByRole('button', { name: 'Switch tenant' }).or(page.getByRole('link', { name: 'Switch tenant' })).click();
    const yours = page.getByRole('list', { name: 'Your tenants' });
    await yours.waitFor();
    expect(await yours.getByRole('listitem').allInnerTexts()).toEqual([expect.stringMatching(/^Harbour Works \(harbour-works[^)]*\) as OWNER\s*Current$/)]);
    expect(await yours.getByRole('listitem').first().getAttribute('aria-current')).toBe('true');
    expect(await yours.getByRole('button').count()).toBe(0);
    expect(await page.getByLabel('Tenant slug').count()).toBe(0);
    // Accepted signed out with the password (a sign-in of its own): the page's session stays where it is.
    await addMember(server, other.accessToken, 'MEMBER', email);
    await page.reload();
    await yours.getByRole('listitem').nth(1).waitFor();
    const texts = await yours.getByRole('listitem').allInnerTexts();
    expect(texts).toHaveLength(2);
    expect(texts[1]).toMatch(new RegExp(`^Tide Office \\(${other.tenant.slug}\\) as MEMBER\\s*Switch$`));
    await view(page, 'switch-tenant');
    await yours.getByRole('button', { name: 'Switch to Tide Office' }).click();
    await page.getByRole('button', { name: new RegExp(`Tide Office · ${email}`) }).waitFor();
    await page.locator('#datasets-empty').waitFor();
    await view(page, 'switch-tenant-done');

    // A narrow screen: the navigation folds into a menu.
    await page.setViewportSize({ width: 390, height: 800 });
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.waitFor({ state: 'visible' });
    expect(await page.getByRole('link', { name: 'Datasets', exact: true }).isVisible()).toBe(false);
    await menu.click();
    await page.getByRole('link', { name: 'Datasets', exact: true }).waitFor({ state: 'visible' });
    // Nothing wider than the screen: no sideways scrolling.
    await expectNoSidewaysScroll(page);
    await view(page, 'narrow-menu');
    // The menu says it is open; Escape closes it and gives the focus back to its button; a followed link closes it too.
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    await page.keyboard.press('Escape');
    await page.getByRole('link', { name: 'Datasets', exact: true }).waitFor({ state: 'hidden' });
    expect([await menu.getAttribute('aria-expanded'), await menu.evaluate((button) => button === document.activeElement)]).toEqual(['false', true]);
    await menu.click();
    await page.getByRole('link', { name: 'Members', exact: true }).click();
    await page.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Datasets', exact: true }).waitFor({ state: 'hidden' });
    await networkSettled(page);

    await page.setViewportSize({ width: 1200, height: 800 });
    // Leave once the view's queries have answered, so what it read is seen, not aborted.
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/datasets`);
    await page.locator('#datasets-empty').waitFor();

    // Sign out: back to the sign-in form, nothing kept in the tab, the token refused by the server.
    const lastToken = await accessToken(page);
    await page.getByRole('button', { name: /Tide Office/ }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([0, 0]);
    expect((await server.graphql('{ viewer { kind } }', { token: lastToken })).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});


async function accessToken(page: Page): Promise<string> {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.app') ?? '{}').tokens.accessToken);
}
