/**
 * The console offers each caller what its permissions allow (`viewer.permissions`, the server's
 * rule table), in a real headless Chromium against the real server. A VIEWER's navigation lacks
 * the admin pages (API keys, Identity providers, Usage, Audit); its Members page is the members
 * table, read-only, with no error: no invitations asked for (MEMBER_MANAGE), no invite form,
 * role menu or Remove; an admin page opened by its address says it is not for the role and asks
 * the API nothing it would refuse. No GraphQL answer on the VIEWER's page carries an error. An
 * ADMIN still sees the invitations and the invite form.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { refusedFields, signInThroughConsole } from '../support/console-view.js';
import { addMember } from '../support/identity.js';

const navLinks = (page: Page) => page.locator('#main-nav a').allInnerTexts();

describeInBrowser('test/console/app-permissions', 'the console follows the caller’s permissions', () => {
  const suite = consoleSuite({ server: { worker: false } });

  it('shows a VIEWER the members read-only and no admin pages; an ADMIN the invitations', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Lock Keepers Guild' });
    const viewer = await addMember(server, owner.accessToken, 'VIEWER');
    const admin = await addMember(server, owner.accessToken, 'ADMIN');

    const { page, blocked, problems } = await suite.openPage();
    const refused = refusedFields(page);
    await signInThroughConsole(page, server.baseUrl, viewer);
    await networkSettled(page);
    expect(await navLinks(page)).toEqual(['Datasets', 'Models', 'Endpoints', 'Catalog', 'Playground', 'Policies', 'Members', 'Settings', 'GraphiQL']);

    await page.getByRole('link', { name: 'Members', exact: true }).click();
    const table = page.locator('#members-table');
    await table.locator(`tr[data-email="${viewer.email}"]`).waitFor();
    await networkSettled(page);
    expect((await table.locator('thead th').allInnerTexts()).map((text) => text.trim())).toEqual(['Email', 'Name', 'Role', 'Member since']);
    const roles = await table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => [row.getAttribute('data-email'), row.children[2]?.textContent]));
    expect(roles.sort()).toEqual([[admin.email, 'admin'], [owner.email, 'owner'], [viewer.email, 'viewer']].sort());
    expect(await page.locator('#members-table select, #members-table button').count()).toBe(0);
    expect(await page.locator('#invite-form').count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Invitations' }).count()).toBe(0);
    expect(await page.getByRole('alert').count()).toBe(0);

    // An admin page by its address: said to be for others, asked for nothing.
    await page.goto(`${server.baseUrl}/console/api-keys`);
    await page.locator('#view-not-allowed').filter({ hasText: 'Not for your role.' }).waitFor();
    await networkSettled(page);
    expect(await page.locator('#keys-table, #keys-empty').count()).toBe(0);

    expect(await refused()).toEqual([]);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);

    // An ADMIN manages: the admin pages, the invitations and the invite form.
    const { page: adminPage, problems: adminProblems } = await suite.openPage();
    const adminRefused = refusedFields(adminPage);
    await signInThroughConsole(adminPage, server.baseUrl, admin);
    await networkSettled(adminPage);
    expect(await navLinks(adminPage)).toEqual(['Datasets', 'Models', 'Endpoints', 'Catalog', 'Playground', 'Policies', 'API keys', 'Members', 'Identity providers', 'Settings', 'Usage', 'Audit', 'GraphiQL']);
    await adminPage.getByRole('link', { name: 'Members', exact: true }).click();
    await adminPage.locator('#invitations-empty').waitFor();
    await adminPage.locator('#invite-form').waitFor();
    expect(await adminPage.getByLabel(`Role of ${viewer.email}`).inputValue()).toBe('VIEWER');
    await networkSettled(adminPage);
    expect(await adminRefused()).toEqual([]);
    expect(adminProblems.unexpected()).toEqual([]);
  });
});
