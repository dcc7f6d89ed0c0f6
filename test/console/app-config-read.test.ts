/**
 * A VIEWER's console asks only for what a VIEWER may read (`config:read` is ADMIN's), in a real
 * headless Chromium against the real server: the models list shows the model and that a key is
 * set, not its server address or the key's ending; Settings leaves out the IP allow-list; a
 * policy says its type and that its configuration is for admins. No view shows an error for a
 * field the role may not read. The owner, on the same data, sees all of it.
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { createModel, must } from '../support/endpoints.js';
import { addMember } from '../support/identity.js';
import { createDataset } from '../support/ingestion.js';
import { createPolicy } from '../support/policies.js';

const BASE_URL = 'http://models.internal.example.test/v1';

describeInBrowser('test/console/app-config-read', "the console below ADMIN: configuration it may not read", () => {
  const suite = consoleSuite();

  it('shows a VIEWER models, settings and policies without their configuration, and no error', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Sluice Gate Trust' });
    const token = owner.accessToken;
    const model = await createModel(server, token, { name: 'gate-chat', type: 'openai-compatible', config: { baseUrl: BASE_URL, model: 'small' }, apiKey: 'sk-provider-4321' });
    const dataset = await createDataset(server, token);
    const { createEndpoint } = await must(server, token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id slug } }', {
      input: { name: 'Gate', slug: 'gate-answers', datasetIds: [dataset.id], modelId: model.id },
    });
    await createPolicy(server, token, createEndpoint.id, 'access', { mode: 'allow', patterns: ['*@secret-partner-a.example'] });
    const viewer = await addMember(server, token, 'VIEWER');

    const { page, blocked, problems } = await suite.signedIn(viewer);
    const alerts = page.getByRole('alert');

    await page.getByRole('link', { name: 'Models', exact: true }).click();
    const row = page.locator('#models-table tr[data-name="gate-chat"]');
    await row.waitFor();
    await networkSettled(page);
    expect((await row.innerText()).replace(/\s+/g, ' ')).toMatch(/gate-chat openai-compatible chat set /);
    expect(await row.innerText()).not.toContain('4321');
    expect(await row.innerText()).not.toContain('models.internal');
    expect(await alerts.count()).toBe(0);

    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.locator('#tenant-settings-form').waitFor();
    await networkSettled(page);
    expect(await page.getByLabel('IP allow-list').count()).toBe(0);
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Sluice Gate Trust');
    expect(await alerts.count()).toBe(0);

    await page.getByRole('link', { name: 'Policies', exact: true }).click();
    const policy = page.locator('#policies-table tr[data-type="access"]');
    await policy.waitFor();
    await networkSettled(page);
    expect((await policy.innerText()).replace(/\s+/g, ' ')).toContain('access Its configuration is shown to admins only');
    expect(await page.content()).not.toContain('secret-partner-a');
    // The decision log is ADMIN's (USAGE_READ): a VIEWER's page leaves it out, and nothing on it is refused.
    expect(await page.locator('#decisions-table, #decisions-empty').count()).toBe(0);
    expect(await alerts.count()).toBe(0);

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);

    // The owner, on the same data, reads it all.
    const { page: ownerPage } = await suite.signedIn(owner);
    await ownerPage.getByRole('link', { name: 'Models', exact: true }).click();
    const ownerRow = ownerPage.locator('#models-table tr[data-name="gate-chat"]');
    await ownerRow.waitFor();
    expect((await ownerRow.innerText()).replace(/\s+/g, ' ')).toMatch(new RegExp(`openai-compatible ${BASE_URL.replace(/[./]/g, '\\$&')} chat set, …4321`));
    await ownerPage.getByRole('link', { name: 'Policies', exact: true }).click();
    await ownerPage.locator('#policies-table tr[data-type="access"]').filter({ hasText: '*@secret-partner-a.example' }).waitFor();
  });
});
