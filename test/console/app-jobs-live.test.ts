/**
 * A dataset's Jobs panel shows a job started elsewhere (here: ingestDocuments through the API,
 * as the CLI or another tab would) while the page is open, without a reload, and follows it to
 * the end (issue 21). The server runs without a job worker at first, so the job is seen QUEUED
 * before a worker is started and it completes. A job of another dataset of the same tenant is
 * not added. Then a re-embed job started through the API fails (the model server answers 500)
 * and its card's retry (`reembedDataset`) adds a new re-embed job that embeds every chunk.
 * Real Chromium, server, PostgreSQL and job queue; the embeddings server is fake-openai
 * (test/support/fake-openai.ts), a test double for a third-party model server speaking the real
 * OpenAI `/v1/embeddings` protocol over HTTP.
 */
import { expect, it } from 'vitest';
import type { SluiceWorker } from '../../src/server/job-worker.js';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView } from '../support/console-view.js';
import { createModel, must } from '../support/endpoints.js';
import { createDataset, ingestedHandbook, ingestInline } from '../support/ingestion.js';

describeInBrowser('test/console/app-jobs-live', "the console's live Jobs panel", () => {
  // One retry, soon: the model server's two scripted 500s fail the re-embed job quickly.
  const env = { SLUICE_MODEL_MAX_RETRIES: '1', SLUICE_MODEL_RETRY_BASE_MS: '10' };
  const suite = consoleSuite({ server: { worker: false, env }, fakeOpenAIs: 1 });
  /** Started by the first test that needs one; the suite stops it. */
  let worker: SluiceWorker | undefined;

  it('adds a job started through the API while the page is open, and follows it to the end', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const account = await suite.signUp({ tenantName: 'Harbour Works' });
    const dataset = await createDataset(server, account.accessToken, { name: 'Keepers log', slug: 'keepers-log' });
    const other = await createDataset(server, account.accessToken, { name: 'Tide tables', slug: 'tide-tables' });
    const { page, blocked, problems } = await suite.signedIn(account);
    await networkSettled(page);
    // The feed's subscribe message leaving the page: from then on, a new job can only reach the panel through it.
    const subscribed = new Promise<void>((resolve) => {
      page.on('websocket', (socket) => socket.on('framesent', ({ payload }) => String(payload).includes('datasetIngestion') && resolve()));
    });
    await page.goto(`${server.baseUrl}/console/datasets/keepers-log`);
    await page.getByRole('heading', { name: 'Keepers log', level: 1 }).waitFor();
    await page.locator('#jobs-empty').waitFor();
    await subscribed;
    await networkSettled(page);
    // Survives only if the page is not loaded again.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

    const elsewhere = await ingestInline(server, account.accessToken, other.id, [{ title: 'Neap', text: 'Neap tides follow the quarter moons.' }]);
    expect(elsewhere.body.errors).toBeUndefined();
    const started = await ingestInline(server, account.accessToken, dataset.id, [
      { title: 'Lamp', text: 'The keeper winds the clockwork lamp at dusk.' },
      { title: 'Fog', text: 'In fog the horn sounds twice a minute.' },
    ]);
    expect(started.body.errors).toBeUndefined();
    const jobId: string = started.body.data.ingestDocuments.id;

    const card = page.locator(`#jobs > li[data-job-id="${jobId}"]`);
    await card.locator('.job-status').filter({ hasText: 'Queued' }).waitFor();
    worker = await suite.startLateWorker();
    await card.locator('.job-status').filter({ hasText: /^Completed$/ }).waitFor({ timeout: 60_000 });
    await card.locator('.job-figures').filter({ hasText: 'documents 2 of 2' }).waitFor();

    // Only this dataset's job, in the same document as before.
    expect(await page.locator('#jobs > li').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-job-id')))).toEqual([jobId]);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await checkView(page, 'jobs-live');

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });

  it('retries a failed re-embed job from its card: a new job embeds the chunks left', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    worker ??= await suite.startLateWorker();
    const account = await suite.signUp({ tenantName: 'Tide Works' });
    const token = account.accessToken;
    const model = await createModel(server, token, { name: 'Harbour vectors', type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'sluice-embed' } });
    const dataset = await ingestedHandbook(server, token);
    const { page, blocked, problems } = await suite.signedIn(account);
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/datasets/lighthouse-handbook`);
    await page.locator('#jobs > li[data-status="COMPLETED"]').waitFor();
    await networkSettled(page);

    // The model server fails past the client's retries: the re-embed job started through the API fails, live on the page.
    fake.script({ failures: [{ status: 500 }, { status: 500 }] });
    const changed = await must(server, token, 'mutation($id: ID!, $model: ID) { updateDataset(id: $id, input: { embeddingModelId: $model }) { id } }', { id: dataset.id, model: model.id });
    expect(changed.updateDataset.id).toBe(dataset.id);
    const reembeds = page.locator('.job-card').filter({ has: page.getByRole('heading', { name: 'Re-embedding the chunks' }) });
    const failed = reembeds.and(page.locator('[data-status="FAILED"]'));
    await failed.waitFor({ timeout: 60_000 });
    expect(await failed.innerText()).toMatch(/Embedding failed \(EMBEDDING_HTTP_ERROR\)/);
    await checkView(page, 'job-reembed-failed');

    fake.script({});
    await failed.getByRole('button', { name: 'Retry: embed the chunks left' }).click();
    const completed = reembeds.and(page.locator('[data-status="COMPLETED"]'));
    await completed.waitFor({ timeout: 60_000 });
    expect(await reembeds.count()).toBe(2);
    const failedId = await failed.getAttribute('data-job-id');
    expect(await completed.getAttribute('data-job-id')).not.toBe(failedId);
    const { node } = await must(server, token, 'query($id: ID!) { node(id: $id) { ... on Dataset { chunkCount embedding { servingModel { id } embeddedChunks } } } }', { id: dataset.id });
    expect(node.chunkCount).toBeGreaterThan(0);
    expect(node.embedding).toEqual({ servingModel: { id: model.id }, embeddedChunks: node.chunkCount });
    expect(await completed.locator('.job-figures').innerText()).toBe(`completed · 100 % · chunks embedded ${node.chunkCount} of ${node.chunkCount}`);

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
