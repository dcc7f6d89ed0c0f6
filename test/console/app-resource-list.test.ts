/**
 * The console's shared resource list (src/console/app/paged-list.ts, resource-list.tsx) where
 * the views' copies went wrong: a filter's older answer, arriving after the newer one, no longer
 * replaces it; and the members view no longer says "No open invitations" before the invitations
 * have arrived. The server's answers are held back in the browser (Playwright's routing) to
 * make the order certain. Real Chromium, server and PostgreSQL.
 */
import type { Route } from 'playwright-core';
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { createDataset } from '../support/ingestion.js';

/** A promise, and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describeInBrowser('test/console/app-resource-list', "the console's resource list", () => {
  const suite = consoleSuite();

  it('keeps the rows of the filter last typed when an earlier filter answers after it', { timeout: 60_000 }, async () => {
    const owner = await suite.signUp({ tenantName: 'Filter Race' });
    await createDataset(suite.server, owner.accessToken, { name: 'Harbour charts' });
    await createDataset(suite.server, owner.accessToken, { name: 'Hartley letters' });

    const { page, blocked, problems } = await suite.signedIn(owner);
    const names = page.locator('#datasets-table tbody tr td:first-child');
    await names.nth(1).waitFor();

    // The answer for "Har" (both datasets) is held until the one for "Harb" has been shown.
    const held = gate();
    const reached = gate();
    await page.route('**/graphql', async (route: Route) => {
      const body = route.request().postData() ?? '';
      if (body.includes('query Datasets(') && route.request().postDataJSON()?.variables?.nameContains === 'Har') {
        reached.open();
        await held.opened;
      }
      await route.fallback();
    });
    const filter = page.getByLabel('Filter datasets by name');
    await filter.fill('Har');
    await reached.opened;
    await filter.fill('Harb');
    await page.locator('#datasets-table tbody tr').nth(1).waitFor({ state: 'detached' });
    expect(await names.allInnerTexts()).toEqual(['Harbour charts']);

    held.open();
    await networkSettled(page);
    expect(await names.allInnerTexts()).toEqual(['Harbour charts']);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });

  it('shows the invitations as loading, not as none, until the members view has read them', { timeout: 60_000 }, async () => {
    const owner = await suite.signUp({ tenantName: 'Invitation Wait' });
    const invited = `pending-${Date.now()}@example.com`;
    const { body } = await suite.server.graphql('mutation($email: String!) { inviteMember(email: $email, role: VIEWER) { token } }', { token: owner.accessToken, variables: { email: invited } });
    expect(body.data?.inviteMember?.token).toMatch(/^sli_/);

    const { page, blocked, problems } = await suite.signedIn(owner);
    // The members' first page (which brings the first invitations) is held until released.
    const held = gate();
    await page.route('**/graphql', async (route: Route) => {
      if ((route.request().postData() ?? '').includes('query Members(')) await held.opened;
      await route.fallback();
    });
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByRole('status').filter({ hasText: 'Loading invitations' }).waitFor();
    expect(await page.locator('#invitations-empty').count()).toBe(0);

    held.open();
    await page.locator(`#invitations-table tr[data-email="${invited}"]`).waitFor();
    expect(await page.locator('#invitations-empty').count()).toBe(0);
    expect(await page.getByRole('status').filter({ hasText: 'Loading invitations' }).count()).toBe(0);
    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
