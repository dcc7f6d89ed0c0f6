/**
 * A dataset's page stays true while others change the dataset (through the API here, as the
 * CLI or another tab would), without a reload:
 * - a burst of jobs larger than the Jobs panel's page (10) started while the page is open:
 *   every one gets its card, newest first. The page's reads of the newest jobs are held until
 *   the burst is in, so a panel that learns of new jobs by reading the newest page again can
 *   only ever show the 10 newest; the panel reads the jobs named by the dataset's live feed by
 *   id, those of the burst together: its first read is held until the feed has named all 12,
 *   and the rest go in one more request (not one each).
 * - 11 jobs queued before the page opens: the oldest, next to run, is not among the newest 10
 *   but the live feed names it, so it is shown last; **Older jobs** does not show it twice.
 * - the dataset's embeddings model changed through the API, twice: the Embeddings section
 *   names each new model and follows its re-embed job until its vectors serve queries; then
 *   cleared and the dataset renamed through the API (no job starts): the section shows no
 *   model and the heading the new name (the dataset's own feed, `datasetChanges`).
 * - the dataset changed elsewhere while its Settings form is being edited: fields not edited
 *   take the new values, an edited field keeps what was typed and the form says what the saved
 *   value became; saving then saves what was typed, or the saved values are taken back.
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
    const account = await suite.signUp({ tenantName: 'Pier Works' });
    const dataset = await createDataset(server, account.accessToken, { name: 'Pier log', slug: 'pier-log' });
    const { page, blocked, problems } = await suite.signedIn(account);
    let releaseReads = () => {};
    // Job ids the page has heard from the live feed; all of the burst's, once the last is in.
    const ids: string[] = [];
    const heard = new Set<string>();
    let everyJobHeard = () => {};
    const burstHeard = new Promise<void>((resolve) => (everyJobHeard = resolve));
    const checkHeard = () => ids.length === 12 && ids.every((id) => heard.has(id)) && everyJobHeard();
    // Listening before the dataset page opens its socket (openDatasetPage loads the page).
    page.on('websocket', (socket) =>
      socket.on('framereceived', ({ payload }) => {
        for (const [, id] of String(payload).matchAll(/"jobId":"([^"]+)"/g)) heard.add(id!);
        checkHeard();
      }),
    );
    try {
      await openDatasetPage(page, server.baseUrl, { slug: 'pier-log', name: 'Pier log' });
      await markDocument(page);
      await page.locator('#jobs-empty').waitFor();

      // Reads of the newest jobs page wait until the whole burst is in; so does the first read
      // of jobs by id, so the burst's other ids arrive while it is on its way.
      const readsHeld = new Promise<void>((resolve) => (releaseReads = resolve));
      let jobReads = 0;
      await page.route('**/graphql', async (route) => {
        const body = route.request().postData() ?? '';
        if (body.includes('query ConsoleIngestionJobs(')) await readsHeld;
        // By id: one query a job before, ConsoleIngestionJobsByIds (nodes) now.
        if (/query ConsoleIngestionJob(sByIds)?\(/.test(body) && ++jobReads === 1) await burstHeard;
        await route.fallback();
      });
      for (let index = 1; index <= 12; index++) {
        const started = await ingestInline(server, account.accessToken, dataset.id, [{ title: `Entry ${index}`, text: `Tide entry ${index}: the pier stood dry at low water.` }]);
        expect(started.body.errors).toBeUndefined();
        ids.push(started.body.data.ingestDocuments.id);
      }
      checkHeard();
      releaseReads();

      for (const id of ids) await page.locator(`#jobs > li[data-job-id="${id}"][data-status="QUEUED"]`).waitFor();
      expect(await page.locator('#jobs > li').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-job-id')))).toEqual([...ids].reverse());
      // The feed names the burst in one go (a timed read of the dataset's jobs) or spread out
      // (events): read at once, or the held first read and one more for the rest; never 12.
      expect(jobReads).toBeGreaterThan(0);
      expect(jobReads).toBeLessThanOrEqual(2);
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

    // Cleared elsewhere: no job starts, and nothing on the page polls (every chunk is
    // embedded); only the dataset's own feed tells the page.
    expect((await must(server, token, SET_MODEL, { id: dataset.id, model: null })).updateDataset.id).toBe(dataset.id);
    await field('model').filter({ hasText: 'none (keyword search only)' }).waitFor({ timeout: 30_000 });
    await field('embedded').filter({ hasText: /^—$/ }).waitFor();
    expect(await page.getByLabel('Embeddings model').inputValue()).toBe('');
    // Renamed elsewhere too: the heading follows.
    await must(server, token, 'mutation($id: ID!) { updateDataset(id: $id, input: { name: "Lighthouse handbook, 2nd ed." }) { id } }', { id: dataset.id });
    await page.getByRole('heading', { name: 'Lighthouse handbook, 2nd ed.', level: 1 }).waitFor();
    expect(await sameDocument(page)).toBe(true);

    await endsClean(page, blocked, problems);
  });

  it('keeps what is typed in Settings when the dataset changes elsewhere, and says what changed', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const account = await suite.signUp({ tenantName: 'Dock Works' });
    const token = account.accessToken;
    const dataset = await createDataset(server, token, { name: 'Dock log', slug: 'dock-log' });
    const update = (input: Record<string, string>) => must(server, token, 'mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }', { id: dataset.id, input });
    const stored = async () => (await must(server, token, 'query($id: ID!) { dataset(id: $id) { name slug description } }', { id: dataset.id })).dataset;
    const { page, blocked, problems } = await suite.signedIn(account);
    await openDatasetPage(page, server.baseUrl, { slug: 'dock-log', name: 'Dock log' });
    await markDocument(page);
    const name = page.locator('#settings-name');
    const description = page.locator('#settings-description');
    const notice = page.locator('#settings-changed-elsewhere');

    // Typing a name; the description changes elsewhere: it follows, the typed name stays.
    await name.fill('Dock journal');
    await update({ description: 'Kept at the dock office.' });
    await page.locator('p', { hasText: 'Kept at the dock office.' }).waitFor();
    await expect.poll(() => description.inputValue()).toBe('Kept at the dock office.');
    expect(await name.inputValue()).toBe('Dock journal');
    expect(await notice.count()).toBe(0);

    // The name changes elsewhere too: the heading follows, the typed name stays, the form says so.
    await update({ name: 'Dock register' });
    await page.getByRole('heading', { name: 'Dock register', level: 1 }).waitFor();
    await notice.waitFor();
    expect(await notice.locator('li').allInnerTexts()).toEqual(['Name is now “Dock register”.']);
    expect(await name.inputValue()).toBe('Dock journal');

    // Saving saves what was typed, with the description as it now stands.
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('heading', { name: 'Dock journal', level: 1 }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await notice.count()).toBe(0);
    expect(await stored()).toEqual({ name: 'Dock journal', slug: 'dock-log', description: 'Kept at the dock office.' });

    // Not being edited any more: a rename elsewhere shows in the field.
    await update({ name: 'Dock book' });
    await expect.poll(() => name.inputValue()).toBe('Dock book');

    // Edited and changed elsewhere again: "Use the saved values" takes the saved ones back.
    await name.fill('Scratch name');
    await update({ name: 'Dock ledger' });
    await notice.locator('li', { hasText: 'Name is now “Dock ledger”.' }).waitFor();
    await notice.getByRole('button', { name: 'Use the saved values' }).click();
    await notice.waitFor({ state: 'detached' });
    expect(await name.inputValue()).toBe('Dock ledger');
    expect(await stored()).toEqual({ name: 'Dock ledger', slug: 'dock-log', description: 'Kept at the dock office.' });
    expect(await sameDocument(page)).toBe(true);

    await endsClean(page, blocked, problems);
  });
});
