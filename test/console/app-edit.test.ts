/**
 * Editing and deleting in the console (issue 21) in a real headless Chromium against the real
 * server and PostgreSQL, every other host refused: a model renamed, pointed at another model
 * name and given a new API key (a blank name refused first; the rotated key is the one the
 * next connection test sends), a model still used by an endpoint refused on delete with the
 * endpoint named (asked first; "Keep it" keeps it), an endpoint edited (name, description,
 * datasets, model, retrieval), then the model, no longer used, deleted. The API and the audit
 * trail are read to check what the console did (a refused delete changes nothing and is not
 * a configuration event). axe-core on each dialog.
 */
import { expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView } from '../support/console-view.js';
import { createModel, must } from '../support/endpoints.js';
import { createDataset } from '../support/ingestion.js';

describeInBrowser('test/console/app-edit', "the console's edit and delete actions", () => {
  const suite = consoleSuite({ fakeOpenAIs: 1 });

  it('edits a model (rotating its key), refuses deleting one in use, edits an endpoint, then deletes the model', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    const owner = await suite.signUp({ tenantName: 'Harbour Works' });
    const token = owner.accessToken;
    const builtIn = await createModel(server, token, { name: 'Built-in', type: 'extractive' });
    const chat = await createModel(server, token, { name: 'Harbour chat', type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' }, apiKey: 'sk-old-key-000000001111' });
    const [lamps, fog] = [await createDataset(server, token, { name: 'Lamps' }), await createDataset(server, token, { name: 'Fog' })];
    const created = await must(server, token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id slug } }`, {
      input: { name: 'Lamp answers', slug: 'lamp-answers', datasetIds: [lamps.id], modelId: builtIn.id, retrieval: { mode: 'KEYWORD', topK: 3 } },
    });
    const endpointId = created.createEndpoint.id as string;

    const { page, blocked, problems } = await suite.signedIn(owner);

    // A model edited: a blank name is refused in the dialog; then a new name, model name and key.
    await page.getByRole('link', { name: 'Models', exact: true }).click();
    const chatRow = page.locator('#models-table tr[data-name="Harbour chat"]');
    await chatRow.getByRole('button', { name: 'Edit Harbour chat' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit “Harbour chat”' });
    await edit.waitFor();
    expect(await edit.getByLabel('Server URL').inputValue()).toBe(fake.baseUrl);
    expect(await edit.getByLabel('Model name on the server').inputValue()).toBe('sluice-test');
    expect(await edit.getByText('A key ending …1111 is stored.').count()).toBe(1);
    await edit.getByLabel('Name', { exact: true }).fill('  ');
    await edit.getByRole('button', { name: 'Save model' }).click();
    const editRefusal = edit.getByRole('alert').filter({ hasText: 'Could not change the model' });
    await editRefusal.filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    expect(await editRefusal.innerText()).toMatch(/name/);
    await checkView(page, 'model-edit', { fullPage: false });
    await edit.getByLabel('Name', { exact: true }).fill('Harbour chat two');
    await edit.getByLabel('Model name on the server').fill('sluice-test-2');
    await edit.getByLabel('New API key').fill('sk-new-key-000000002222');
    await edit.getByLabel('Prompt tokens').fill('1500');
    await edit.getByLabel('Completion tokens').fill('2000');
    await edit.getByRole('button', { name: 'Save model' }).click();
    await edit.waitFor({ state: 'detached' });
    const renamed = page.locator('#models-table tr[data-name="Harbour chat two"]');
    await renamed.waitFor();
    expect(await renamed.locator('td').nth(3).innerText()).toBe('set, …2222');
    const stored = (await must(server, token, `query($id: ID!) { node(id: $id) { ... on Model { name config apiKeyLast4 promptMicrosPer1k completionMicrosPer1k } } }`, { id: chat.id })).node;
    expect(stored).toEqual({ name: 'Harbour chat two', config: { baseUrl: fake.baseUrl, model: 'sluice-test-2' }, apiKeyLast4: '2222', promptMicrosPer1k: 1500, completionMicrosPer1k: 2000 });

    // The rotated key is the one sent from now on.
    const before = fake.requests.length;
    await renamed.getByRole('button', { name: 'Test connection of Harbour chat two' }).click();
    await renamed.getByRole('status').filter({ hasText: /Connected/ }).waitFor();
    expect(fake.requests.slice(before).map((request) => [request.headers.authorization, request.body.model])).toEqual([['Bearer sk-new-key-000000002222', 'sluice-test-2']]);

    // Deleting a model asks first; "Keep it" keeps it; while the endpoint uses it the server refuses, and the console says which endpoint.
    const builtInRow = page.locator('#models-table tr[data-name="Built-in"]');
    await builtInRow.getByRole('button', { name: 'Delete Built-in' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete “Built-in”?' });
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    await confirm.waitFor({ state: 'detached' });
    await builtInRow.getByRole('button', { name: 'Delete Built-in' }).click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    const inUse = page.getByRole('alert').filter({ hasText: 'Could not delete the model' }).filter({ hasText: 'CONFLICT' });
    await inUse.waitFor();
    expect(await inUse.innerText()).toMatch(/Model is used by endpoints: lamp-answers/);
    expect(await builtInRow.count()).toBe(1);
    await checkView(page, 'model-delete-refused');
    await inUse.getByRole('button', { name: 'Dismiss this error' }).click();

    // The endpoint edited: name, description, datasets (Fog instead of Lamps), model, top K.
    await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
    const row = page.locator('#endpoints-table tr[data-slug="lamp-answers"]');
    await row.getByRole('button', { name: 'Edit' }).click();
    const editEndpoint = page.getByRole('dialog', { name: 'Edit “Lamp answers”' });
    await editEndpoint.getByLabel(/^Lamps/).waitFor();
    expect(await editEndpoint.getByLabel(/^Lamps/).isChecked()).toBe(true);
    expect(await editEndpoint.getByLabel(/^Fog/).isChecked()).toBe(false);
    expect(await editEndpoint.getByLabel('Chat model').locator('option:checked').innerText()).toBe('Built-in');
    await editEndpoint.getByLabel('Name', { exact: true }).fill('Lamp and fog answers');
    await editEndpoint.getByLabel('Description').fill('Answers about lamps and fog.');
    await editEndpoint.getByLabel(/^Lamps/).uncheck();
    await editEndpoint.getByLabel(/^Fog/).check();
    await editEndpoint.getByLabel('Chat model').selectOption({ label: 'Harbour chat two' });
    await editEndpoint.getByLabel('Passages per query (top K)').fill('7');
    expect(await editEndpoint.getByLabel('Slug').inputValue()).toBe('lamp-answers');
    await editEndpoint.getByLabel('Slug').fill('lamp-fog-answers');
    expect(await editEndpoint.getByLabel(/^Anonymous callers may ask/).isChecked()).toBe(false);
    await editEndpoint.getByLabel(/^Anonymous callers may ask/).check();
    await checkView(page, 'endpoint-edit', { fullPage: false });
    await editEndpoint.getByRole('button', { name: 'Save endpoint' }).click();
    await editEndpoint.waitFor({ state: 'detached' });
    // Its row is found by its new slug now.
    const edited = page.locator(`#endpoints-table tr[data-slug="lamp-fog-answers"]`);
    await edited.locator('td[data-field="retrieval"]').filter({ hasText: /^KEYWORD, top 7$/ }).waitFor();
    expect(await edited.locator('td[data-field="endpoint"]').innerText()).toMatch(/^Lamp and fog answers\n.*lamp-fog-answers\nAnswers about lamps and fog\.$/);
    expect(await edited.locator('td').nth(1).innerText()).toBe('Harbour chat two');
    expect(await edited.locator('td').nth(2).innerText()).toBe('Fog');
    const endpoint = (await must(server, token, `query($id: ID!) { node(id: $id) { ... on Endpoint { name slug allowAnonymous description model { id } datasets { id } retrieval { mode topK } } } }`, { id: endpointId })).node;
    expect(endpoint).toEqual({ name: 'Lamp and fog answers', slug: 'lamp-fog-answers', allowAnonymous: true, description: 'Answers about lamps and fog.', model: { id: chat.id }, datasets: [{ id: fog.id }], retrieval: { mode: 'KEYWORD', topK: 7 } });

    // No longer used: the model is deleted.
    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await builtInRow.getByRole('button', { name: 'Delete Built-in' }).click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await builtInRow.waitFor({ state: 'detached' });
    // Read by id, not through the models list, whose shape is changing to a connection (issue 22).
    const left = await must(server, token, 'query($gone: ID!, $kept: ID!) { gone: node(id: $gone) { id } kept: node(id: $kept) { ... on Model { name } } }', { gone: builtIn.id, kept: chat.id });
    expect(left).toEqual({ gone: null, kept: { name: 'Harbour chat two' } });

    // Each change is in the audit trail: the key's rotation by its last four characters only.
    const events = await auditEventsOf(server, token, 4, { action: 'config.model.*' }, 10_000, (event) => event.action === 'config.model.delete');
    const changes = events.filter((event) => event.action !== 'config.model.create');
    expect(changes.map((event) => [event.action, event.outcome, (event.details.after ?? event.details.before).name])).toEqual([
      ['config.model.update', 'ok', 'Harbour chat two'],
      ['config.model.delete', 'ok', 'Built-in'],
    ]);
    expect([changes[0]!.details.before.keyLast4, changes[0]!.details.after.keyLast4]).toEqual(['1111', '2222']);
    expect(JSON.stringify(events)).not.toContain('sk-new-key');

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
