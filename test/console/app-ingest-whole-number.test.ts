/**
 * The ingestion options' own check in the page (ingest-options.tsx): a chunk size or overlap
 * that is not a whole number ("150.5", "2e3") is refused before anything is sent, naming the
 * field and what was typed (GraphQL would only say "Int cannot represent…"); no upload request
 * leaves the page and no job starts. Then the same field corrected sends the file, and the
 * job completes. Real Chromium, server, worker and PostgreSQL.
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { must } from '../support/endpoints.js';

const JOBS = 'query($id: ID!) { ingestionJobs(datasetId: $id, first: 10) { edges { node { id } } } }';

describeInBrowser('test/console/app-ingest-whole-number', "the console's ingestion options check", () => {
  const suite = consoleSuite();

  it('refuses a chunk size that is not a whole number in the page: nothing is sent, no job starts', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const { account, dataset, page, blocked, problems } = await suite.datasetPage('Tide Office', { name: 'Tide notes', slug: 'tide-notes' });
    // Every upload the page sends (one multipart request per drop or choice).
    const uploads: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && (request.headers()['content-type'] ?? '').startsWith('multipart/form-data')) uploads.push(request.url());
    });
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
  });
});
