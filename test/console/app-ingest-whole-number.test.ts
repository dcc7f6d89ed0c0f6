/**
 * The ingestion options' own check in the page (ingest-options.tsx): a chunk size or overlap
 * that is not a whole number ("150.5", "2e3") is refused before anything is sent, naming the
 * field and what was typed (GraphQL would only say "Int cannot represent…"); no upload request
 * leaves the page and no job starts. Then the same field corrected sends the file, and the
 * job completes. Real Chromium, server, worker and PostgreSQL.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, launchChromium, networkSettled } from '../support/browser.js';
import { consolePage, signInThroughConsole } from '../support/console-view.js';
import { must } from '../support/endpoints.js';
import { signUp } from '../support/identity.js';
import { createDataset } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skipReason = browserSkipReason('test/console/app-ingest-whole-number');
const JOBS = 'query($id: ID!) { ingestionJobs(datasetId: $id, first: 10) { edges { node { id } } } }';

describe.skipIf(skipReason !== undefined)(skipReason ? `the console's ingestion options check (${skipReason})` : "the console's ingestion options check", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('refuses a chunk size that is not a whole number in the page: nothing is sent, no job starts', { timeout: 120_000 }, async () => {
    const account = await signUp(server, { tenantName: 'Tide Office' });
    const dataset = await createDataset(server, account.accessToken, { name: 'Tide notes', slug: 'tide-notes' });
    const { context, page, blocked, problems } = await consolePage(browser, server.baseUrl);
    // Every upload the page sends (one multipart request per drop or choice).
    const uploads: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && (request.headers()['content-type'] ?? '').startsWith('multipart/form-data')) uploads.push(request.url());
    });
    try {
      await signInThroughConsole(page, server.baseUrl, account);
      await networkSettled(page);
      await page.goto(`${server.baseUrl}/console/datasets/tide-notes`);
      await page.locator('#jobs-empty').waitFor();
      await page.locator('#ingest-options > button').first().click();
      const file = (name: string) => ({ name, mimeType: 'text/plain', buffer: Buffer.from('The tide gauge at the outer pier read high.') });
      const alert = page.getByRole('alert').filter({ hasText: 'Could not ingest' });

      for (const [label, typed] of [
        ['Chunk size', '150.5'],
        ['Chunk overlap', '2e3'],
      ] as const) {
        await page.getByLabel(label).fill(typed);
        await page.locator('#ingest-files').setInputFiles(file('gauge.txt'));
        await alert.waitFor();
        expect(await alert.innerText()).toContain(`${label} must be a whole number of characters (it is “${typed}”)`);
        await networkSettled(page);
        expect(uploads).toEqual([]);
        expect((await must(server, account.accessToken, JOBS, { id: dataset.id })).ingestionJobs.edges).toEqual([]);
        expect(await page.locator('#jobs-empty').isVisible()).toBe(true);
        await alert.getByRole('button', { name: 'Dismiss this error' }).click();
        await alert.waitFor({ state: 'detached' });
        await page.getByLabel(label).fill('');
      }

      // Whole numbers are sent, and the job runs with them.
      await page.getByLabel('Chunk size').fill('150');
      await page.locator('#ingest-files').setInputFiles(file('gauge.txt'));
      await page.locator('#jobs > li[data-status="COMPLETED"]').waitFor({ timeout: 60_000 });
      expect(uploads).toHaveLength(1);
      expect((await must(server, account.accessToken, JOBS, { id: dataset.id })).ingestionJobs.edges).toHaveLength(1);

      await networkSettled(page);
      expect(blocked).toEqual([]);
      expect(problems.unexpected()).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
