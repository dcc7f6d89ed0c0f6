/**
 * A dataset's page stays true while others change the dataset (through the API here, as the
 * CLI or another tab would), without a reload:
 * - a burst of jobs larger than the Jobs panel's page (10) started while the page is open:
 *   every one gets its card, newest first. The page's reads of the newest jobs are held until
 *   the burst is in, so a panel that learns of new jobs by reading the newest page again can
 *   only ever show the 10 newest; the panel reads each job named by the dataset's live feed by id.
 * - 11 jobs queued before the page opens: the oldest, next to run, is not among the newest 10
 *   but the live feed names it, so it is shown last; **Older jobs** does not show it twice.
 * - the dataset's embeddings model changed through the API, twice: the Embeddings section
 *   names each new model and follows its re-embed job until its vectors serve queries.
 * Real Chromium, server, PostgreSQL and job queue (no worker at first, so the burst stays
 * queued); the embeddings server is fake-openai (test/support/fake-openai.ts), a test double
 * for a third-party model server speaking the real OpenAI `/v1/embeddings` protocol over HTTP.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import type { SluiceWorker } from '../../src/server/job-worker.js';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { openDatasetPage } from '../support/console-view.js';
import { createModel, must } from '../support/endpoints.js';
import { createDataset, ingestedHandbook, ingestInline } from '../support/ingestion.js';

const SET_MODEL = 'mutation($id: ID!, $model: ID) { updateDataset(id: $id, input: { embeddingModelId: $model }) { id } }';

/** Marks the page's document: the mark survives only if the page is not loaded again (sameDocument). */
const markDocument = (page: Page) => page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

/** Nothing in flight, no other host asked, no error in the page. */
async function endsClean(page: Page, blocked: string[], problems: { unexpected(): string[] }): Promise<void> {
  await networkSettled(page);
  expect(blocked).toEqual([]);
  expect(problems.unexpected()).toEqual([]);
}

const sameDocument = (page: Page) => page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument);

describeInBrowser('test/console/app-live-dataset', "the console's dataset page kept live", () => {
  const suite = consoleSuite({ server: { worker: false }, fakeOpenAIs: 1 });
  let worker: SluiceWorker | undefined;

  it('adds every job of a burst started through the API, more than a page of them', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const { account, dataset, page, blocked, problems } = await suite.datasetPage('Pier Works', { name: 'Pier log', slug: 'pier-log' });
    await markDocument(page);
    let releaseReads = () => {};
    try {
      await page.locator('#jobs-empty').waitFor();

      // Reads of the newest jobs page wait until the whole burst is in.
      const readsHeld = new Promise<void>((resolve) => (releaseReads = resolve));
      await page.route('**/graphql', async (route) => {
        if ((route.request().postData() ?? '').includes('query ConsoleIngestionJobs(')) await readsHeld;
        await route.fallback();
      });
      const ids: string[] = [];
      for (let index = 1; index <= 12; index++) {
        const started = await ingestInline(server, account.accessToken, dataset.id, [{ title: `Entry ${index}`, text: `Tide entry ${index}: the pier stood dry at low water.` }]);
        expect(started.body.errors).toBeUndefined();
        ids.push(started.body.data.ingestDocuments.id);
      }
      releaseReads();

      for (const id of ids) await page.locator(`#jobs > li[data-job-id="${id}"][data-status="QUEUED"]`).waitFor();
      expect(await page.locator('#jobs > li').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-job-id')))).toEqual([...ids].reverse());
      expect(await sameDocument(page)).toBe(true);

      await page.unroute('**/graphql');
      await endsClean(page, blocked, problems);
    } finally {
      releaseReads();
    }
  });

  it('shows a queued job older than the newest page, once, also after Older jobs', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const account = await suite.signUp({ tenantName: 'Quay Works' });
    const dataset = await createDataset(server, account.accessToken, { name: 'Quay log', slug: 'quay-log' });
    // No worker yet: all 11 wait queued, and the oldest (next to run) is not among the newest 10.
    const ids: string[] = [];
    for (let index = 1; index <= 11; index++) {
      const started = await ingestInline(server, account.accessToken, dataset.id, [{ title: `Berth ${index}`, text: `Berth ${index} was cleared before the tide turned.` }]);
      expect(started.body.errors).toBeUndefined();
      ids.push(started.body.data.ingestDocuments.id);
    }
    const { page, blocked, problems } = await suite.signedIn(account);
    await openDatasetPage(page, server.baseUrl, { slug: 'quay-log', name: 'Quay log' });
    await markDocument(page);
    const shownIds = () => page.locator('#jobs > li').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-job-id')));
    // The live feed names every queued job at once; the oldest is read by id and put last.
    await page.locator(`#jobs > li[data-job-id="${ids[0]}"][data-status="QUEUED"]`).waitFor();
    expect(await shownIds()).toEqual([...ids].reverse());

    // The older page holds that job too: it is not shown twice.
    await page.getByRole('button', { name: 'Older jobs' }).click();
    await page.getByRole('button', { name: 'Older jobs' }).waitFor({ state: 'detached' });
    expect(await shownIds()).toEqual([...ids].reverse());
    expect(await sameDocument(page)).toBe(true);

    await endsClean(page, blocked, problems);
  });

  it('follows the embeddings model changed through the API, each time, to its vectors serving', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    worker ??= await suite.startLateWorker();
    const account = await suite.signUp({ tenantName: 'Harbour Works' });
    const token = account.accessToken;
    const harbour = await createModel(server, token, { name: 'Harbour vectors', type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'harbour' } });
    const pier = await createModel(server, token, { name: 'Pier vectors', type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'pier' } });
    const dataset = await ingestedHandbook(server, token);
    const { chunkCount } = (await must(server, token, 'query($id: ID!) { dataset(id: $id) { chunkCount } }', { id: dataset.id })).dataset;
    expect(chunkCount).toBeGreaterThan(0);

    const { page, blocked, problems } = await suite.signedIn(account);
    await openDatasetPage(page, server.baseUrl, { slug: 'lighthouse-handbook', name: 'Lighthouse handbook' });
    await markDocument(page);
    const facts = page.locator('#dataset-embedding');
    const field = (name: string) => facts.locator(`[data-field="${name}"]`);
    await field('model').filter({ hasText: 'none (keyword search only)' }).waitFor();
    await page.getByLabel('Embeddings model').locator('option', { hasText: 'Pier vectors' }).waitFor({ state: 'attached' });

    // Changed elsewhere, twice (the second while the first one's vectors serve): the section
    // names the new model and follows its re-embed job until its vectors serve queries.
    for (const model of [harbour, pier]) {
      expect((await must(server, token, SET_MODEL, { id: dataset.id, model: model.id })).updateDataset.id).toBe(dataset.id);
      const named = new RegExp(`^${model.name}$`);
      await field('model').filter({ hasText: named }).waitFor({ timeout: 30_000 });
      await field('serving').filter({ hasText: named }).waitFor({ timeout: 60_000 });
      await field('embedded').filter({ hasText: new RegExp(`^${chunkCount} of ${chunkCount} chunks$`) }).waitFor();
      expect(await page.getByLabel('Embeddings model').inputValue()).toBe(model.id);
    }
    const { embedding } = (await must(server, token, 'query($id: ID!) { dataset(id: $id) { embedding { model { id } servingModel { id } embeddedChunks } } }', { id: dataset.id })).dataset;
    expect(embedding).toEqual({ model: { id: pier.id }, servingModel: { id: pier.id }, embeddedChunks: chunkCount });
    expect(await sameDocument(page)).toBe(true);

    await endsClean(page, blocked, problems);
  });
});
