/**
 * Your account in the console (issue 21: "everything in docs/"): the data export as a file,
 * erasing the account (asked first; refused while the only owner of a tenant with other
 * members, with the server's reason shown), and your own use of an endpoint, with what is left
 * of its rate limit, under the playground's answer. Real Chromium, server and PostgreSQL.
 */
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView } from '../support/console-view.js';
import { endpointOver } from '../support/endpoints.js';
import { addMember, codeOf, logIn } from '../support/identity.js';
import { createPolicy } from '../support/policies.js';

describeInBrowser('test/console/app-account', "the console's account view", () => {
  const suite = consoleSuite();

  it('downloads my data, and refuses to delete the only owner of a tenant with members (asked first)', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Tide Tables' });
    const member = await addMember(server, owner.accessToken, 'MEMBER');
    const { page, blocked, problems } = await suite.signedIn(owner);
    await page.getByRole('button', { name: /Tide Tables/ }).click();
    await page.getByRole('link', { name: 'Your account' }).click();
    await page.getByRole('heading', { name: 'Your account', level: 1 }).waitFor();
    await checkView(page, 'account');

    // The export is a file with this account's own data in it.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download my data' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^sluice-my-data-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = JSON.parse(await readFile((await download.path())!, 'utf8'));
    expect(JSON.stringify(exported)).toContain(owner.email);
    expect(JSON.stringify(exported)).not.toContain(member.email);
    await page.getByRole('status').filter({ hasText: 'Saved as sluice-my-data-' }).waitFor();

    // The only owner of a tenant with another member: asked first, then refused as the server says.
    await page.getByLabel('Your password').fill(owner.password);
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Delete your account?' }).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await logIn(server, { email: owner.email, password: owner.password })).body.errors).toBeUndefined();

    await page.getByRole('button', { name: 'Delete my account…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete my account' }).click();
    const refusal = page.getByRole('alert');
    await refusal.getByText('CONFLICT').waitFor();
    expect(await refusal.textContent()).toMatch(/owner/i);
    expect((await logIn(server, { email: owner.email, password: owner.password })).body.errors).toBeUndefined();

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });

  it('deletes the account of a user alone in their tenant, after a wrong password is refused', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const loner = await suite.signUp({ tenantName: 'Solo Soundings' });
    const { page, blocked, problems } = await suite.signedIn(loner);
    await page.getByRole('button', { name: /Solo Soundings/ }).click();
    await page.getByRole('link', { name: 'Your account' }).click();
    await page.getByLabel('Your password').fill('not the password');
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete my account' }).click();
    // A wrong password is refused, and the session stays (it is not the session that was refused).
    await page.getByRole('alert').getByText('The password is not right').waitFor();
    await page.getByRole('heading', { name: 'Your account', level: 1 }).waitFor();
    expect(codeOf((await logIn(server, { email: loner.email, password: loner.password })).body)).toBeUndefined();
    await page.getByLabel('Your password').fill(loner.password);
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('heading', { name: 'Your account is deleted' }).waitFor();
    await checkView(page, 'account-deleted');
    expect(codeOf((await logIn(server, { email: loner.email, password: loner.password })).body)).toBe('UNAUTHENTICATED');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(blocked).toEqual([]);
    // The wrong password's 401 and the log-out after deletion (401: the session is gone) are let through by status.
    expect(problems.unexpected()).toEqual([]);
  });

  it("shows the caller's own use of an endpoint and what is left of its rate limit after a question", { timeout: 180_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Pilot Station' });
    const setup = await endpointOver(server, owner.accessToken, [{ title: 'Pilots', text: 'A pilot boards every ship entering the harbour at the outer buoy.' }]);
    await createPolicy(server, owner.accessToken, setup.endpointId, 'rate_limit', { requestsPerPeriod: 3, periodSeconds: 3600 });
    const { page, blocked, problems } = await suite.signedIn(owner);
    // Moving inside the application, as a user does (no reload of the page).
    await page.getByRole('link', { name: 'Playground' }).click();
    await page.getByLabel('Endpoint').fill(setup.reference);
    await page.getByLabel('Question').fill('Where does the pilot board?');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#answer-state[data-state="done"]').waitFor();
    const mine = page.locator('#my-usage');
    await mine.getByText('1 question, 0 refused').waitFor();
    const row = mine.getByRole('row').nth(1);
    expect(await row.locator('td').allTextContents()).toEqual([expect.stringMatching(/^3 questions per hour \(rate_limit\)$/), '1', '2', expect.any(String)]);

    await page.getByRole('button', { name: 'Ask' }).click();
    await mine.getByText('2 questions, 0 refused').waitFor();
    expect(await mine.getByRole('row').nth(1).locator('td').nth(2).textContent()).toBe('1');
    await checkView(page, 'playground-my-usage');
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
