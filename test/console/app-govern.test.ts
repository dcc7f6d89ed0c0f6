/**
 * The console's governance views in a real headless Chromium against the real server, worker
 * and PostgreSQL, every other host refused: add an access policy (a refused configuration
 * first), cause a refusal by asking the endpoint over HTTP as a caller the policy refuses,
 * find it explained in the decision log (filtered by outcome and caller), edit, switch off and
 * delete the policy (asked first); create an API key (secret shown once, copied), rotate it
 * with a grace period, revoke it (asked first) and see it refused; invite two people, revoke one
 * invitation, accept the other through its link in a second tab, change a member's role;
 * change tenant settings (a lock-out refused first); a narrow screen. axe-core on every view; screenshots in test-results/console-*.png.
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView, expectNoSidewaysScroll, expectRefusal } from '../support/console-view.js';
import { endpointOver, gql } from '../support/endpoints.js';
import { addMember, codeOf, uniqueEmail } from '../support/identity.js';
import { outcome } from '../support/policies.js';

describeInBrowser('test/console/app-govern', "the console's governance views", () => {
  const suite = consoleSuite();

  it('adds a policy and explains its refusal in the decision log; keys, members and settings', { timeout: 240_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Quay Authority' });
    const endpoint = await endpointOver(server, owner.accessToken, [{ title: 'Locks', text: 'The lock keeper opens the gates at high tide.' }]);
    const refusedEmail = uniqueEmail('visitor').replace('@example.test', '@refused.example');
    const refused = await addMember(server, owner.accessToken, 'VIEWER', refusedEmail);

    const { page, blocked, problems } = await suite.signedIn(owner, { permissions: ['clipboard-read', 'clipboard-write'] });

    // Policies: none yet, which says what that means.
    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('heading', { name: 'Policies', level: 1 }).waitFor();
    await page.locator('#policies-empty').filter({ hasText: 'No policies' }).waitFor();
    await page.locator('#decisions-empty').filter({ hasText: 'No decisions yet' }).waitFor();

    // A refused configuration names the field and stays; then a deny list for the refused domain.
    const form = page.locator('#new-policy-form');
    await form.getByLabel('Type').selectOption('access');
    await form.getByLabel('Mode').selectOption('deny');
    await form.getByLabel('Patterns').fill('nobody');
    await form.getByRole('button', { name: 'Add policy' }).click();
    const addError = await expectRefusal(page, { title: 'Could not add the policy', code: 'BAD_USER_INPUT', message: 'configuration.patterns.0: must contain @' });
    await form.getByLabel('Patterns').fill('*@refused.example');
    await form.getByRole('button', { name: 'Add policy' }).click();
    const row = page.locator('#policies-table tbody tr[data-type="access"]');
    await row.waitFor();
    expect(await row.locator('td').nth(1).innerText()).toBe('Refuses *@refused.example');
    await checkView(page, 'policy-refused-configuration');
    await addError.getByRole('button', { name: 'Dismiss this error' }).click();

    // A refusal, asked over HTTP as the refused caller; the owner is let through.
    const denied = await outcome(server, refused.accessToken, endpoint.reference);
    expect(denied).toMatchObject({ code: 'POLICY_DENIED', extensions: { reason: 'ACCESS_DENIED', policyType: 'access' } });
    expect((await outcome(server, owner.accessToken, endpoint.reference)).code).toBe('ok');

    // The decision log explains it: filter by outcome, then by the caller.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#decisions-table tbody tr').nth(1).waitFor();
    await page.getByLabel('Outcome').selectOption('DENY');
    const decisions = page.locator('#decisions-table tbody tr');
    await expect.poll(() => decisions.count()).toBe(1);
    const refusal = decisions.first();
    expect(await refusal.getAttribute('data-decision')).toBe('DENY');
    expect(await refusal.locator('td').nth(2).innerText()).toContain(`${refusedEmail} (user)`);
    const why = await refusal.locator('[data-field="why"]').innerText();
    expect(why).toContain('Refused by the access policy.');
    expect(why).toContain('The endpoint’s access policy refuses this caller ACCESS_DENIED');
    expect(why).toContain('Rule: deny *@refused.example');
    await page.getByLabel('Outcome').selectOption('');
    await page.getByLabel('Caller').selectOption({ label: owner.email });
    // The whole list, not its first row: the unfiltered list (Outcome cleared) also begins with
    // the owner's ALLOW until the caller filter's answer replaces it.
    await expect.poll(() => decisions.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-decision')))).toEqual(['ALLOW']);
    expect(await decisions.first().locator('[data-field="why"]').innerText()).toContain('Every policy let it through.');
    await page.getByLabel('Caller').selectOption({ label: refusedEmail });
    await expect.poll(() => decisions.first().getAttribute('data-decision')).toBe('DENY');
    await refusal.getByText("Each policy's verdict").click();
    await checkView(page, 'policies');

    // Edit: a second pattern; switch it off (the caller is let through); delete, asked first.
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.locator('#edit-policy-form');
    expect(await edit.getByLabel('Type').isDisabled()).toBe(true);
    await edit.getByLabel('Patterns').fill('*@refused.example\nmallory@example.org');
    await edit.getByRole('button', { name: 'Save policy' }).click();
    await row.locator('td').filter({ hasText: 'Refuses *@refused.example, mallory@example.org' }).waitFor();
    await row.getByLabel('access policy enabled').click();
    await row.getByText('off').waitFor();
    expect((await outcome(server, refused.accessToken, endpoint.reference)).code).toBe('ok');
    await row.getByRole('button', { name: 'Delete' }).click();
    const confirmDelete = page.getByRole('dialog', { name: 'Delete this access policy?' });
    await confirmDelete.getByRole('button', { name: 'Keep it' }).click();
    await confirmDelete.waitFor({ state: 'detached' });
    expect(await row.isVisible()).toBe(true);
    await row.getByRole('button', { name: 'Delete' }).click();
    await confirmDelete.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('#policies-empty').waitFor();
    const left = await gql(server, owner.accessToken, 'query($s: String!) { endpoint(slug: $s) { policies { id } } }', { s: endpoint.reference.split('/')[1] });
    expect(left.data.endpoint.policies).toEqual([]);

    // API keys: created with its secret shown once and copied; it works.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.locator('#keys-empty').filter({ hasText: 'No API keys yet' }).waitFor();
    await page.getByLabel('Name').fill('ci');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.locator('#new-key-secret');
    await shown.waitFor();
    const secret = await shown.getByRole('textbox').inputValue();
    expect(secret).toMatch(/^slk_/);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    expect((await gql(server, secret, '{ viewer { kind scopes } }')).data.viewer).toEqual({ kind: 'API_KEY', scopes: ['READ'] });
    await checkView(page, 'api-keys');

    // Rotated with a day's grace: a new secret; the old key still works meanwhile.
    await page.locator('#keys-table tbody tr').filter({ hasText: 'active' }).getByRole('button', { name: 'Rotate' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate “ci”?' });
    await rotate.getByLabel('Grace period').selectOption({ label: 'one day' });
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await rotate.waitFor({ state: 'detached' });
    await expect.poll(() => shown.getByRole('textbox').inputValue()).not.toBe(secret);
    const successor = await shown.getByRole('textbox').inputValue();
    await page.locator('#keys-table [data-field="state"]').filter({ hasText: 'replaced, in grace period' }).waitFor();
    expect((await gql(server, secret, '{ viewer { kind } }')).data.viewer.kind).toBe('API_KEY');

    // Revoked, asked first: refused from then on.
    const successorRow = page.locator(`#keys-table tbody tr[data-prefix="${successor.slice(0, 12)}"]`);
    await successorRow.getByRole('button', { name: 'Revoke' }).click();
    const confirmRevoke = page.getByRole('dialog', { name: 'Revoke “ci”?' });
    await confirmRevoke.getByRole('button', { name: 'Revoke' }).click();
    await successorRow.locator('[data-field="state"]').filter({ hasText: 'revoked' }).waitFor();
    expect(codeOf(await gql(server, successor, '{ viewer { kind } }'))).toBe('UNAUTHENTICATED');
    await shown.getByRole('button', { name: 'I have kept it: hide' }).click();

    // Members: invite two (each link shown once), revoke one (asked first: its token is then refused), change a role.
    await page.getByRole('link', { name: 'Members' }).click();
    await page.locator(`#members-table tr[data-email="${refusedEmail}"]`).waitFor();
    await page.locator('#invitations-empty').waitFor();
    const invite = async (email: string, role: string) => {
      await page.locator('#invite-form').getByLabel('Email').fill(email);
      await page.locator('#invite-form').getByLabel('Role').selectOption(role);
      await page.getByRole('button', { name: 'Invite', exact: true }).click();
      const shownLink = page.locator('#invitation-link').filter({ hasText: email });
      await shownLink.waitFor();
      return new URL(await shownLink.getByRole('textbox').inputValue());
    };
    const deckhand = uniqueEmail('deckhand');
    const deckhandLink = await invite(deckhand, 'VIEWER');
    expect(deckhandLink.pathname).toBe('/console/accept-invitation');
    expect(deckhandLink.search).toBe('');
    const pilot = uniqueEmail('pilot');
    const pilotToken = new URLSearchParams((await invite(pilot, 'MEMBER')).hash.slice(1)).get('token');
    expect(pilotToken).toMatch(/^sli_/);
    const pilotInvitation = page.locator(`#invitations-table tr[data-email="${pilot}"]`);
    expect(await pilotInvitation.locator('td').nth(1).innerText()).toBe('member');
    await page.getByLabel(`Role of ${refusedEmail}`).selectOption('MEMBER');
    await expect
      .poll(async () => (await gql(server, owner.accessToken, '{ viewer { tenant { members(first: 10) { edges { node { role user { email } } } } } } }')).data.viewer.tenant.members.edges.find((edge: any) => edge.node.user.email === refusedEmail)?.node.role)
      .toBe('MEMBER');
    await checkView(page, 'members');
    await pilotInvitation.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: `Revoke the invitation for ${pilot}?` }).getByRole('button', { name: 'Revoke' }).click();
    await pilotInvitation.waitFor({ state: 'detached' });
    const revoked = await server.graphql('mutation($t: String!) { acceptInvitation(token: $t, password: "a long enough passphrase") { role } }', { variables: { t: pilotToken } });
    expect(revoked.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    // The deckhand follows the link in a tab of their own: a short password is refused, then they are a viewer here.
    const { page: invitedPage, blocked: invitedBlocked, problems: invitedProblems } = await suite.openPage();
    await invitedPage.goto(deckhandLink.toString());
    await invitedPage.getByRole('heading', { name: 'Accept an invitation' }).waitFor();
    expect(await invitedPage.getByLabel('Invitation token').inputValue()).toMatch(/^sli_/);
    await invitedPage.getByLabel('Password').fill('short');
    await invitedPage.getByRole('button', { name: 'Accept' }).click();
    await invitedPage.getByRole('alert').filter({ hasText: 'Could not accept the invitation' }).filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    await checkView(invitedPage, 'accept-invitation');
    await invitedPage.getByLabel('Password').fill('a long enough passphrase');
    await invitedPage.getByRole('button', { name: 'Accept' }).click();
    await invitedPage.getByRole('button', { name: new RegExp(`Quay Authority · ${deckhand}`) }).waitFor();
    await networkSettled(invitedPage);
    expect(invitedBlocked).toEqual([]);
    expect(invitedProblems.unexpected()).toEqual([]);
    const roles = await gql(server, owner.accessToken, '{ viewer { tenant { members(first: 10) { edges { node { role user { email } } } } } } }');
    expect(roles.data.viewer.tenant.members.edges.find((edge: any) => edge.node.user.email === deckhand)?.node.role).toBe('VIEWER');
    await page.reload();
    await page.locator(`#members-table tr[data-email="${deckhand}"]`).waitFor();
    await page.locator('#invitations-empty').waitFor();

    // Settings: an allow-list without this address is refused (lock-out); then a rate and a lifetime.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Tenant settings', level: 1 }).waitFor();
    await page.getByLabel('IP allow-list').fill('10.0.0.0/8');
    await page.getByRole('button', { name: 'Save settings' }).click();
    const settingsError = await expectRefusal(page, { title: 'Could not save the settings', code: 'BAD_USER_INPUT', message: 'you would lock yourself out' });
    await checkView(page, 'tenant-settings-refused');
    await page.getByLabel('IP allow-list').fill('');
    await page.getByLabel('Requests per second, per caller').fill('40');
    await page.getByLabel('API key lifetime (days)').fill('30');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const settings = await gql(server, owner.accessToken, '{ viewer { tenant { rateLimitPerSecond rateLimitBurst apiKeyDefaultTtlDays ipAllowList } } }');
    expect(settings.data.viewer.tenant).toEqual({ rateLimitPerSecond: 40, rateLimitBurst: null, apiKeyDefaultTtlDays: 30, ipAllowList: null });
    expect(await page.getByLabel('Requests per second, per caller').inputValue()).toBe('40');
    await settingsError.getByRole('button', { name: 'Dismiss this error' }).click();
    await checkView(page, 'tenant-settings');

    // A narrow screen: the policies view and its decision log fit without sideways scrolling.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Policies' }).click();
    await page.locator('#decisions-table').waitFor();
    await expectNoSidewaysScroll(page);
    await checkView(page, 'policies-narrow');

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});

