/**
 * Every setting of a model in the console (issue 21), in a real headless Chromium against the
 * real server and PostgreSQL, every other host refused: a chat model created with temperature,
 * longest answer, system prompt and prices (a temperature of 5 refused first: the API's error
 * shown above the form and the field marked, kept until dismissed); the edit dialog shows each
 * stored value, and changing one keeps the others exactly; an embeddings model created with
 * dimensions and batch size, whose connection test asks the model server for those dimensions.
 * The model server is fake-openai, a test double for a third-party server speaking the real
 * OpenAI protocol over HTTP. Values are read back through GraphQL. axe-core on the form and dialog.
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView } from '../support/console-view.js';
import { must } from '../support/endpoints.js';


const MODEL_BY_NAME = `query { models(first: 100) { edges { node { id name type config promptMicrosPer1k completionMicrosPer1k } } } }`;

describeInBrowser('test/console/app-models', "the console's model settings", () => {
  const suite = consoleSuite({ fakeOpenAIs: 1 });

  it('creates models with every setting and prices, refuses a bad value, and edits one setting keeping the others', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    const owner = await suite.signUp({ tenantName: 'Harbour Settings' });
    const token = owner.accessToken;
    const stored = async (name: string) => {
      const edges = (await must(server, token, MODEL_BY_NAME)).models.edges as { node: Record<string, unknown> }[];
      return edges.map((edge) => edge.node).find((node) => node.name === name);
    };

    const { page, blocked, problems } = await suite.signedIn(owner);
    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await page.locator('#models-empty').waitFor();
    const form = page.locator('#create-model-form');

    // A chat model: every field of its type is offered, each with its help.
    await form.getByLabel('Type').selectOption('openai-compatible');
    await form.getByLabel('Name', { exact: true }).fill('Harbour chat');
    await form.getByLabel('Server URL').fill(fake.baseUrl);
    await form.getByLabel('Model name on the server').fill('sluice-test');
    expect(await form.getByLabel('Sentences per answer').count()).toBe(0);
    expect(await form.getByLabel(/^Temperature/).getAttribute('aria-describedby')).toBe('model-temperature-help');
    expect(await form.locator('#model-temperature-help').innerText()).toMatch(/0 .* to 2\. Empty: the server’s default/);
    await form.getByLabel(/^Temperature/).fill('5');
    await form.getByLabel(/^Longest answer/).fill('300');
    await form.getByLabel(/^System prompt/).fill('Answer in one sentence.\nCite the passages as [n].');
    await form.getByLabel('Prompt tokens').fill('150');
    await form.getByLabel('Completion tokens').fill('600');
    await form.getByRole('button', { name: 'Create model' }).click();

    // Refused: the API's error above the form, the field marked with the server's words.
    const refusal = page.getByRole('alert').filter({ hasText: 'Could not create the model' });
    await refusal.filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    expect(await refusal.innerText()).toMatch(/config\.temperature: Too big: expected number to be <=2/);
    expect(await form.getByLabel(/^Temperature/).getAttribute('aria-invalid')).toBe('true');
    expect(await form.locator('#model-temperature-problem').innerText()).toMatch(/Too big/);
    expect(await stored('Harbour chat')).toBeUndefined();
    await checkView(page, 'model-create-refused');

    // The refusal stays while the form is corrected; dismissed, it and the mark go.
    await form.getByLabel(/^Temperature/).fill('0.4');
    expect(await refusal.count()).toBe(1);
    await refusal.getByRole('button', { name: 'Dismiss this error' }).click();
    await refusal.waitFor({ state: 'detached' });
    expect(await form.getByLabel(/^Temperature/).getAttribute('aria-invalid')).toBeNull();
    await form.getByRole('button', { name: 'Create model' }).click();
    await page.locator('#models-table tr[data-name="Harbour chat"]').waitFor();
    const chat = await stored('Harbour chat');
    const chatConfig = { baseUrl: fake.baseUrl, model: 'sluice-test', temperature: 0.4, maxTokens: 300, systemPrompt: 'Answer in one sentence.\nCite the passages as [n].' };
    expect(chat).toMatchObject({ type: 'openai-compatible', config: chatConfig, promptMicrosPer1k: 150, completionMicrosPer1k: 600 });

    // Edited: the dialog shows every stored value; one changed, the others kept exactly.
    await page.locator('#models-table tr[data-name="Harbour chat"]').getByRole('button', { name: 'Edit Harbour chat' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit “Harbour chat”' });
    await edit.waitFor();
    expect(await edit.getByLabel(/^Temperature/).inputValue()).toBe('0.4');
    expect(await edit.getByLabel(/^Longest answer/).inputValue()).toBe('300');
    expect(await edit.getByLabel(/^System prompt/).inputValue()).toBe(chatConfig.systemPrompt);
    expect([await edit.getByLabel('Prompt tokens').inputValue(), await edit.getByLabel('Completion tokens').inputValue()]).toEqual(['150', '600']);
    await edit.getByLabel(/^Longest answer/).fill('500');
    await checkView(page, 'model-edit-settings', { fullPage: false });
    await edit.getByRole('button', { name: 'Save model' }).click();
    await edit.waitFor({ state: 'detached' });
    await networkSettled(page);
    expect(await stored('Harbour chat')).toEqual({ ...chat, config: { ...chatConfig, maxTokens: 500 } });

    // An embeddings model: its own fields (no chat settings), dimensions and batch size.
    await form.getByLabel('Type').selectOption('openai-compatible-embeddings');
    expect(await form.getByLabel(/^Temperature/).count()).toBe(0);
    await form.getByLabel('Name', { exact: true }).fill('Harbour vectors');
    await form.getByLabel('Server URL').fill(fake.baseUrl);
    await form.getByLabel('Model name on the server').fill('sluice-embed');
    expect(await form.getByLabel(/^Texts per request/).getAttribute('placeholder')).toBe('64');
    await form.getByLabel(/^Dimensions/).fill('256');
    await form.getByLabel(/^Texts per request/).fill('16');
    await form.getByLabel('Prompt tokens').fill('20');
    await form.getByRole('button', { name: 'Create model' }).click();
    const vectorsRow = page.locator('#models-table tr[data-name="Harbour vectors"]');
    await vectorsRow.waitFor();
    expect(await stored('Harbour vectors')).toMatchObject({
      type: 'openai-compatible-embeddings',
      config: { baseUrl: fake.baseUrl, model: 'sluice-embed', dimensions: 256, batchSize: 16 },
      promptMicrosPer1k: 20,
      completionMicrosPer1k: 0,
    });

    // Its connection test asks the model server for those dimensions.
    const before = fake.requests.length;
    await vectorsRow.getByRole('button', { name: 'Test connection of Harbour vectors' }).click();
    await vectorsRow.getByRole('status').filter({ hasText: /Connected/ }).waitFor();
    expect(fake.requests.slice(before).map((request) => [request.body.model, request.body.dimensions])).toEqual([['sluice-embed', 256]]);

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
