/**
 * A dataset's embeddings model in the console's dataset settings (issue 21) in a real headless
 * Chromium against the real server, worker and PostgreSQL, every other host refused: an
 * embeddings model created in the models view, offered (and the chat model not) by the new
 * dataset form (a dataset created with it) and for a keyword-only dataset with documents; a change asks first ("Keep the current model" changes
 * nothing); a model deleted meanwhile is refused and the error stays shown; then the model is
 * picked, the re-embed job is seen in progress (the model server held mid-request), in the
 * settings and as a job card in the Jobs panel, and then every chunk embedded, checked through
 * the API too (the card kept after a reload); then None, which the API shows as keyword only.
 *
 * The embeddings server is fake-openai (test/support/fake-openai.ts): a test double for a
 * third-party model server, a real HTTP server on 127.0.0.1 speaking the real OpenAI
 * `/v1/embeddings` protocol. axe-core checks each view; screenshots go to
 * test-results/console-<view>.png (docs/console.md shows copies).
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView } from '../support/console-view.js';
import { createModel, must } from '../support/endpoints.js';
import { createDataset, ingestInline, settled } from '../support/ingestion.js';

const EMBEDDING = '{ dataset(id: $id) { chunkCount embedding { model { id name } servingModel { id name } embeddedChunks totalChunks } } }';

describeInBrowser('test/console/app-embedset', "the console's dataset embeddings model", () => {
  const suite = consoleSuite({ fakeOpenAIs: 1 });

  it('picks an embeddings model for a dataset (asked first), sees its chunks embedded, then sets None', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    const owner = await suite.signUp({ tenantName: 'Harbour Works' });
    const token = owner.accessToken;
    await createModel(server, token, { name: 'Built-in', type: 'extractive' });
    const spare = await createModel(server, token, { name: 'Spare vectors', type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'spare' } });
    const dataset = await createDataset(server, token, { name: 'Lighthouse handbook' });
    const job = await ingestInline(server, token, dataset.id, [
      { title: 'Lamp care', text: 'The keeper winds the clockwork lamp every evening at dusk.' },
      { title: 'Fog signals', text: 'Fog horns sound when the harbour is blind with fog.' },
      { title: 'Tides', text: 'The tide tables hang beside the door of the lamp room.' },
    ]);
    expect((await settled(server, token, job.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    const embeddingOf = async () => (await must(server, token, `query($id: ID!) ${EMBEDDING}`, { id: dataset.id })).dataset;
    const { chunkCount, embedding: before } = await embeddingOf();
    expect(chunkCount).toBeGreaterThan(0);
    expect(before).toBeNull();

    const { page, blocked, problems } = await suite.signedIn(owner);

    // The embeddings model, created in the models view.
    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await page.getByLabel('Type').selectOption('openai-compatible-embeddings');
    await page.getByLabel('Name', { exact: true }).fill('Harbour vectors');
    await page.getByLabel('Server URL').fill(fake.baseUrl);
    await page.getByLabel('Model name on the server').fill('sluice-embed');
    await page.getByRole('button', { name: 'Create model' }).click();
    await page.locator('#models-table tr[data-name="Harbour vectors"]').waitFor();

    // A new dataset can embed from the start: the create form offers the same models.
    await page.getByRole('link', { name: 'Datasets', exact: true }).click();
    const create = page.locator('#create-dataset-form');
    await create.getByLabel('Embeddings model').locator('option', { hasText: 'Harbour vectors' }).waitFor({ state: 'attached' });
    expect(await create.getByLabel('Embeddings model').locator('option').allInnerTexts()).toEqual(['None (keyword only)', 'Spare vectors', 'Harbour vectors']);
    await create.getByLabel('Name').fill('Tide tables');
    await create.getByLabel('Embeddings model').selectOption({ label: 'Harbour vectors' });
    await create.getByRole('button', { name: 'Create dataset' }).click();
    await page.getByRole('link', { name: 'Tide tables' }).waitFor();
    expect((await must(server, token, '{ dataset(slug: "tide-tables") { embedding { model { name } } } }')).dataset).toEqual({ embedding: { model: { name: 'Harbour vectors' } } });

    // The dataset's settings offer the embeddings models only, with None first.
    // Leave once the view's queries have answered, so what it read is seen, not aborted.
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/datasets/${dataset.slug}`);
    const facts = page.locator('#dataset-embedding');
    const select = page.getByLabel('Embeddings model');
    await facts.locator('[data-field="model"]').filter({ hasText: 'none (keyword search only)' }).waitFor();
    await select.locator('option', { hasText: 'Harbour vectors' }).waitFor({ state: 'attached' });
    expect(await select.locator('option').allInnerTexts()).toEqual(['None (keyword only)', 'Spare vectors', 'Harbour vectors']);
    expect(await select.inputValue()).toBe('');
    const change = page.getByRole('button', { name: 'Change embeddings model' });
    expect(await change.isDisabled()).toBe(true);

    // A change asks first; keeping the current model changes nothing.
    await select.selectOption({ label: 'Harbour vectors' });
    await change.click();
    const confirm = page.getByRole('dialog', { name: 'Re-embed with “Harbour vectors”?' });
    await confirm.waitFor();
    expect(await confirm.innerText()).toContain(`The dataset will be re-embedded: all its ${chunkCount} chunks`);
    await checkView(page, 'dataset-embedding-confirm', { fullPage: false });
    await confirm.getByRole('button', { name: 'Keep the current model' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect((await embeddingOf()).embedding).toBeNull();

    // A model deleted since the page read the list: refused, and the error stays shown.
    await must(server, token, 'mutation($id: ID!) { deleteModel(id: $id) { id } }', { id: spare.id });
    await select.selectOption({ label: 'Spare vectors' });
    await change.click();
    await page.getByRole('dialog', { name: 'Re-embed with “Spare vectors”?' }).getByRole('button', { name: 'Re-embed' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'Could not change the embeddings model' });
    await refusal.waitFor();
    expect(await refusal.innerText()).toMatch(/NOT_FOUND/);
    expect((await embeddingOf()).embedding).toBeNull();

    // Picked and confirmed: the re-embed job is seen in progress while the model server is held, then done.
    let release!: () => void;
    fake.script({ embeddings: { until: new Promise<void>((resolve) => (release = resolve)) } });
    const asked = fake.requests.length;
    await select.selectOption({ label: 'Harbour vectors' });
    await change.click();
    await page.getByRole('dialog', { name: 'Re-embed with “Harbour vectors”?' }).getByRole('button', { name: 'Re-embed' }).click();
    const embedded = facts.locator('[data-field="embedded"]');
    await embedded.filter({ hasText: `0 of ${chunkCount} chunks (re-embedding…)` }).waitFor();
    expect(await facts.locator('[data-field="model"]').innerText()).toBe('Harbour vectors');
    await fake.requestsReached(asked + 1);
    // The Jobs panel shows the re-embed job too, followed live: running while the model server is held.
    const reembedCard = page.locator('.job-card').filter({ has: page.getByRole('heading', { name: 'Re-embedding the chunks' }) });
    await reembedCard.and(page.locator('[data-status="RUNNING"]')).waitFor();
    expect(await reembedCard.locator('.job-figures').innerText()).toMatch(new RegExp(`^embedding · 0 % · chunks embedded 0 of ${chunkCount}$`));
    await checkView(page, 'dataset-embedding');
    release();
    await embedded.filter({ hasText: new RegExp(`^${chunkCount} of ${chunkCount} chunks$`) }).waitFor({ timeout: 60_000 });
    await facts.locator('[data-field="serving"]').filter({ hasText: 'Harbour vectors' }).waitFor();
    // The refusal stays until dismissed (a later success does not clear it).
    expect(await refusal.isVisible()).toBe(true);
    await refusal.getByRole('button', { name: 'Dismiss this error' }).click();
    // Its card ended completed, every chunk embedded, as the API says; and so it is after a reload (the history).
    const completed = reembedCard.and(page.locator('[data-status="COMPLETED"]'));
    await completed.waitFor();
    expect(await completed.locator('.job-figures').innerText()).toBe(`completed · 100 % · chunks embedded ${chunkCount} of ${chunkCount}`);
    const latest = await must(server, token, 'query($id: ID!) { ingestionJobs(datasetId: $id, last: 1) { edges { node { progress { kind status chunksEmbedded } } } } }', { id: dataset.id });
    expect(latest.ingestionJobs.edges[0].node.progress).toEqual({ kind: 'REEMBED', status: 'COMPLETED', chunksEmbedded: chunkCount });
    // The ended job's counts and documents are read again: a reload would abort them.
    await networkSettled(page);
    await page.reload();
    await completed.waitFor();
    expect(await page.locator('.job-card').count()).toBe(2);
    const texts = fake.requests.slice(asked).flatMap((request) => [request.body.input].flat());
    expect(texts.some((text: string) => text.includes('clockwork lamp'))).toBe(true);
    const after = (await embeddingOf()).embedding;
    expect(after).toMatchObject({ model: { name: 'Harbour vectors' }, servingModel: { name: 'Harbour vectors' }, embeddedChunks: chunkCount, totalChunks: chunkCount });
    fake.script({});

    // None: asked first, then keyword search only, in the view and through the API.
    await select.selectOption({ label: 'None (keyword only)' });
    await change.click();
    const stop = page.getByRole('dialog', { name: 'Stop embedding this dataset?' });
    await stop.waitFor();
    expect(await stop.innerText()).toContain('Its vectors are deleted');
    await stop.getByRole('button', { name: 'Stop embedding' }).click();
    await facts.locator('[data-field="model"]').filter({ hasText: 'none (keyword search only)' }).waitFor();
    expect((await embeddingOf()).embedding).toBeNull();

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
