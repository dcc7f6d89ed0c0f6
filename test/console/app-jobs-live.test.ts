/**
 * A dataset's Jobs panel shows a job started elsewhere (here: ingestDocuments through the API,
 * as the CLI or another tab would) while the page is open, without a reload, and follows it to
 * the end (issue 21). The server runs without a job worker at first, so the job is seen QUEUED
 * before a worker is started and it completes. A job of another dataset of the same tenant is
 * not added. Real Chromium, server, PostgreSQL and job queue.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SluiceWorker } from '../../src/server/job-worker.js';
import { browserSkipReason, launchChromium, networkSettled } from '../support/browser.js';
import { checkView, consolePage, signInThroughConsole } from '../support/console-view.js';
import { signUp } from '../support/identity.js';
import { createDataset, ingestInline } from '../support/ingestion.js';
import { startLateWorker, startTestServer, type TestServer } from '../support/server.js';

const skipReason = browserSkipReason('test/console/app-jobs-live');

describe.skipIf(skipReason !== undefined)(skipReason ? `the console's live Jobs panel (${skipReason})` : "the console's live Jobs panel", () => {
  let server: TestServer;
  let browser: Browser;
  let worker: SluiceWorker | undefined;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ worker: false }), launchChromium()]);
  });
  afterAll(async () => {
    await worker?.stop();
    await browser?.close();
    await server?.close();
  });

  it('adds a job started through the API while the page is open, and follows it to the end', { timeout: 180_000 }, async () => {
    const account = await signUp(server, { tenantName: 'Harbour Works' });
    const dataset = await createDataset(server, account.accessToken, { name: 'Keepers log', slug: 'keepers-log' });
    const other = await createDataset(server, account.accessToken, { name: 'Tide tables', slug: 'tide-tables' });
    const { context, page, blocked, problems } = await consolePage(browser, server.baseUrl);
    try {
      await signInThroughConsole(page, server.baseUrl, account);
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
      worker = await startLateWorker(server);
      await card.locator('.job-status').filter({ hasText: /^Completed$/ }).waitFor({ timeout: 60_000 });
      await card.locator('.job-figures').filter({ hasText: 'documents 2 of 2' }).waitFor();

      // Only this dataset's job, in the same document as before.
      expect(await page.locator('#jobs > li').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-job-id')))).toEqual([jobId]);
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
      await checkView(page, 'jobs-live');

      await networkSettled(page);
      expect(blocked).toEqual([]);
      expect(problems.unexpected()).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
