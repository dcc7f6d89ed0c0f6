/**
 * The console's models, endpoints, catalog and playground (issue 21) in a real headless
 * Chromium against the real server, worker and PostgreSQL, with every request to another host
 * refused: add the built-in extractive model, a chat model and an embeddings model, test
 * connections (one answers, one fails and says why), create an endpoint over a dataset with
 * documents (a refused slug first), change its retrieval settings (a refused top K first), publish and list it, unpublish (which unlists) and publish
 * again, see it in the catalog, ask it in the playground and watch the answer stream (partial
 * text seen before the final answer) with its passages and where each ranking placed them,
 * stop a question mid-answer (the server's call to the model is closed),
 * delete it (asked first), and the playground on a 390 px screen.
 *
 * The chat and embeddings model server is fake-openai (test/support/fake-openai.ts): a test
 * double for a third-party model server, a real HTTP server on 127.0.0.1 speaking the OpenAI
 * protocol (chat completions streamed as server-sent events, embeddings), paced so the answer
 * arrives in pieces. The failing model points at a port nobody listens on.
 *
 * Every view is checked with axe-core (test/support/console-view.ts): no serious or critical
 * violation. Any console error, page error, CSP violation or request to another host fails
 * the test. Screenshots: test-results/console-<view>.png (docs/console.md shows copies).
 */
import { createServer, type AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView as view, deleteAfterKeeping, expectNoSidewaysScroll } from '../support/console-view.js';
import { must } from '../support/endpoints.js';
import { uniqueEmail } from '../support/identity.js';
import { createDataset, ingestInline, settled } from '../support/ingestion.js';

const ANSWER_PIECES = ['The keeper winds ', 'the clockwork lamp ', 'every evening at dusk. [1]'];

describeInBrowser('test/console/app-endpoints', "the console's endpoint views", () => {
  const suite = consoleSuite({ server: { env: { SLUICE_MODEL_TIMEOUT_MS: '60000' } }, fakeOpenAIs: 2 });

  it('models → test connection → endpoint → publish → catalog → playground streaming → delete', { timeout: 240_000 }, async () => {
    const { server } = suite;
    const fake = suite.fake;
    /** The embeddings server, apart from the chat one so each can be scripted alone. */
    const vectorsFake = suite.fakes[1]!;
    const { page, blocked, problems } = await suite.openPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(`${server.baseUrl}/console/sign-up`);
    await page.getByLabel('Email').fill(uniqueEmail('endpoints'));
    await page.getByLabel('Password').fill('a long enough passphrase');
    await page.getByLabel('Organisation').fill('Harbour Works');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    const token = await accessToken(page);
    const tenantSlug = await page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.app') ?? '{}').tenant.slug as string);

    // Models: the empty state says what to do; then the extractive, a chat and an embeddings model.
    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await page.locator('#models-empty').filter({ hasText: 'No models yet' }).waitFor();
    await view(page, 'models-empty');
    await createModel(page, { type: 'extractive', name: 'Built-in' });
    await createModel(page, { type: 'openai-compatible', name: 'Harbour chat', baseUrl: fake.baseUrl, model: 'sluice-test', apiKey: 'sk-console-test-0123456789' });
    await createModel(page, { type: 'openai-compatible-embeddings', name: 'Harbour vectors', baseUrl: vectorsFake.baseUrl, model: 'sluice-embed' });
    await createModel(page, { type: 'openai-compatible', name: 'Nowhere chat', baseUrl: `http://127.0.0.1:${await closedPort()}/v1`, model: 'm' });
    expect(await page.locator('#models-table tr[data-name="Harbour chat"] td').nth(3).innerText()).toBe('set, …6789');

    // Test connection: the built-in answers without a server, the chat model through the fake, the absent one fails and says why.
    const before = fake.requests.length;
    await testConnection(page, 'Built-in', /Connected answered in 0 ms/);
    await testConnection(page, 'Harbour chat', /Connected answered in \d+ ms/);
    expect(fake.requests.slice(before).map((request) => request.headers.authorization)).toEqual(['Bearer sk-console-test-0123456789']);
    await testConnection(page, 'Harbour vectors', /Connected answered in \d+ ms/);
    await testConnection(page, 'Nowhere chat', /Failed NETWORK: The model server could not be reached/);
    await view(page, 'models');

    // A dataset that embeds with the embeddings model, with documents (ingested through the API).
    const models = ((await must(server, token, '{ models(first: 10) { edges { node { id name } } } }')).models.edges as { node: { id: string; name: string } }[]).map((edge) => edge.node);
    const vectors = models.find((model) => model.name === 'Harbour vectors')!;
    const dataset = await createDataset(server, token, { name: 'Lighthouse handbook', embeddingModelId: vectors.id });
    const job = await ingestInline(server, token, dataset.id, [
      { title: 'Lamp care', text: 'The keeper winds the clockwork lamp every evening at dusk.' },
      { title: 'Fog signals', text: 'Fog horns sound when the harbour is blind with fog.' },
    ]);
    expect((await settled(server, token, job.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');

    // Endpoints: empty state; a refused slug stays said; then a HYBRID endpoint, published and listed.
    await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
    await page.locator('#endpoints-empty').filter({ hasText: 'No endpoints yet' }).waitFor();
    await page.getByLabel(/^Lighthouse handbook/).waitFor();
    await view(page, 'endpoints-empty');
    await page.getByLabel('Name', { exact: true }).fill('Lamp answers');
    await page.getByLabel('Slug').fill('Bad Slug!');
    await page.getByLabel(/^Lighthouse handbook/).check();
    await page.getByLabel('Chat model').selectOption({ label: 'Harbour chat' });
    expect(await page.getByLabel('Chat model').locator('option').allInnerTexts()).toEqual(['Built-in', 'Harbour chat', 'Nowhere chat']);
    await page.getByLabel('Retrieval mode', { exact: true }).selectOption('HYBRID');
    await page.getByLabel('Passages per query (top K)').fill('3');
    await page.getByLabel(/^Published/).check();
    await page.getByLabel(/^Listed in the catalog/).check();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'Could not create the endpoint' });
    await refusal.filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    expect(await refusal.innerText()).toMatch(/slug/);
    await page.getByLabel('Slug').fill('lamp-answers');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const row = page.locator('#endpoints-table tr[data-slug="lamp-answers"]');
    await row.waitFor();
    expect(await row.locator('td[data-field="retrieval"]').innerText()).toBe('HYBRID, top 3');
    expect(await row.locator('td[data-field="state"]').innerText()).toMatch(/published\s+in catalog/);
    // The refusal stays until dismissed (a later success does not clear it).
    expect(await refusal.isVisible()).toBe(true);
    await view(page, 'endpoints');
    await refusal.getByRole('button', { name: 'Dismiss this error' }).click();
    await refusal.waitFor({ state: 'detached' });

    // Its retrieval settings change in a dialog: a top K over 50 is refused there, then 4 is saved.
    await row.getByRole('button', { name: 'Retrieval settings' }).click();
    const settings = page.getByRole('dialog', { name: 'Retrieval of “Lamp answers”' });
    await settings.waitFor();
    expect(await settings.getByLabel('Retrieval mode', { exact: true }).inputValue()).toBe('HYBRID');
    await settings.getByLabel('Passages per query (top K)').fill('60');
    await settings.getByRole('button', { name: 'Save retrieval settings' }).click();
    const settingsRefusal = settings.getByRole('alert').filter({ hasText: 'Could not change the retrieval settings' });
    await settingsRefusal.filter({ hasText: 'BAD_USER_INPUT' }).waitFor();
    expect(await settingsRefusal.innerText()).toMatch(/topK/);
    await view(page, 'endpoint-retrieval', { fullPage: false });
    await settings.getByLabel('Passages per query (top K)').fill('4');
    await settings.getByRole('button', { name: 'Save retrieval settings' }).click();
    await settings.waitFor({ state: 'detached' });
    await row.locator('td[data-field="retrieval"]').filter({ hasText: /^HYBRID, top 4$/ }).waitFor();

    // Unpublishing also unlists; publishing again does not list again, listing does.
    await row.getByRole('button', { name: 'Unpublish' }).click();
    await row.locator('td[data-field="state"]').filter({ hasText: /^\s*unpublished\s*$/ }).waitFor();
    await row.getByRole('button', { name: 'Publish' }).click();
    await row.locator('td[data-field="state"]').filter({ hasText: /^\s*published\s*$/ }).waitFor();
    await row.getByRole('button', { name: 'List in catalog' }).click();
    await row.locator('td[data-field="state"]').filter({ hasText: 'in catalog' }).waitFor();

    // The catalog shows it, under its address.
    await page.getByRole('link', { name: 'Catalog', exact: true }).click();
    const entry = page.locator(`#catalog-list li[data-address="${tenantSlug}/lamp-answers"]`);
    await entry.waitFor();
    expect(await entry.innerText()).toMatch(/Lamp answers[\s\S]*2 documents, 2 passages[\s\S]*HYBRID retrieval[\s\S]*sign-in or API key needed/);
    await view(page, 'catalog');

    // The playground: the answer streams (a partial answer is seen before the final one), with its passages and both rankings.
    fake.script({ deltas: ANSWER_PIECES, delayMs: 150 });
    await entry.getByRole('link', { name: 'Ask in the playground' }).click();
    await page.getByRole('heading', { name: 'Playground', level: 1 }).waitFor();
    expect(await page.getByLabel('Endpoint').inputValue()).toBe(`${tenantSlug}/lamp-answers`);
    await page.getByLabel('Question').fill('When does the keeper wind the lamp?');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#answer').waitFor();
    await page.evaluate(() => {
      // Every text the answer shows, as it changes: an event per change, no polling.
      const seen: string[] = [];
      (window as unknown as { answerTexts: string[] }).answerTexts = seen;
      const answer = document.getElementById('answer')!;
      seen.push(answer.textContent ?? '');
      new MutationObserver(() => seen.push(answer.textContent ?? '')).observe(answer, { childList: true, characterData: true, subtree: true });
    });
    await page.locator('#answer-state[data-state="done"]').waitFor();
    const final = ANSWER_PIECES.join('');
    expect(await page.locator('#answer').innerText()).toBe(final);
    const texts = await page.evaluate(() => (window as unknown as { answerTexts: string[] }).answerTexts);
    const partial = texts.filter((text) => text.length > 1 && text !== final && final.startsWith(text));
    expect(partial.length).toBeGreaterThan(0);
    expect(await page.locator('#citations').innerText()).toBe('Cites [1] Lamp care');
    const first = page.locator('#passages-list li').first();
    expect(await first.locator('[data-field="rank"]').innerText()).toBe('1');
    expect(await first.innerText()).toContain('Lamp care');
    expect(await first.locator('mark').count()).toBeGreaterThan(0);
    expect(await first.locator('[data-field="keyword"]').innerText()).toBe('#1');
    expect(await first.locator('[data-field="semantic"]').innerText()).toMatch(/^#\d$/);
    await view(page, 'playground');

    // Stop: a model that sends one piece and then nothing; Stop ends the question, and the server closes its call to the model.
    fake.script({ deltas: ['The lamp is wound ', 'never sent'], hangAfter: 1 });
    const asked = fake.requests.length;
    await page.getByLabel('Question').fill('Who winds the lamp?');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#answer').filter({ hasText: 'The lamp is wound' }).waitFor();
    expect(await page.locator('#answer-state').getAttribute('data-state')).toBe('streaming');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('#answer-state[data-state="stopped"]').waitFor();
    await fake.requestsReached(asked + 1);
    // The model's timeout is a minute: only the stop can close this call within the wait.
    await Promise.race([
      fake.requests[asked]!.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the model call was not cancelled by Stop')), 20_000)),
    ]);
    expect(fake.requests[asked]!.finished).toBe(false);
    expect(await page.locator('#answer').innerText()).toBe('The lamp is wound ');
    fake.script({ deltas: ANSWER_PIECES });

    // A narrow screen: nothing wider than it.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.getByRole('button', { name: 'Menu' }).waitFor({ state: 'visible' });
    await expectNoSidewaysScroll(page);
    await view(page, 'playground-narrow');
    await page.setViewportSize({ width: 1200, height: 800 });

    // Deleting asks first: "Keep it" keeps it; "Delete" deletes it.
    // Leave once the view's queries have answered, so what it read is seen, not aborted.
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/endpoints`);
    await deleteAfterKeeping(page, {
      dialog: 'Delete “Lamp answers”?',
      open: () => row.getByRole('button', { name: 'Delete' }).click(),
      asked: () => view(page, 'endpoint-delete', { fullPage: false }),
      kept: async () => expect((await must(server, token, '{ endpoint(slug: "lamp-answers") { slug } }')).endpoint).toEqual({ slug: 'lamp-answers' }),
    });
    await page.locator('#endpoints-empty').waitFor();
    expect((await must(server, token, '{ endpoint(slug: "lamp-answers") { slug } }')).endpoint).toBeNull();

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});

async function createModel(page: Page, model: { type: string; name: string; baseUrl?: string; model?: string; apiKey?: string }) {
  await page.getByLabel('Type').selectOption(model.type);
  await page.getByLabel('Name', { exact: true }).fill(model.name);
  if (model.baseUrl) await page.getByLabel('Server URL').fill(model.baseUrl);
  if (model.model) await page.getByLabel('Model name on the server').fill(model.model);
  if (model.apiKey) await page.getByLabel('API key').fill(model.apiKey);
  await page.getByRole('button', { name: 'Create model' }).click();
  await page.locator(`#models-table tr[data-name="${model.name}"]`).waitFor();
}

async function testConnection(page: Page, name: string, expected: RegExp) {
  const row = page.locator(`#models-table tr[data-name="${name}"]`);
  await row.getByRole('button', { name: `Test connection of ${name}` }).click();
  await row.locator('.test-result').filter({ hasText: expected }).waitFor();
}

/** A port on 127.0.0.1 that was free a moment ago and is closed now. */
async function closedPort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  await new Promise((resolve) => listener.close(resolve));
  return port;
}

async function accessToken(page: Page): Promise<string> {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.app') ?? '{}').tokens.accessToken);
}
