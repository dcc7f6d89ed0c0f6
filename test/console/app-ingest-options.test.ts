/**
 * The ingestion options on a dataset's page (issue 21), in a real headless Chromium against the
 * real server, worker and PostgreSQL: the Options disclosure starts collapsed; opened, a chunk
 * size of 200, no overlap and JSON fields `body`/`name` go with the next file chosen, and the
 * documents read back through GraphQL are titled by `name` and chunked by 200 characters; a
 * chunk size of 50 is refused by the API (BAD_USER_INPUT, shown in the panel's error) and no
 * job is started. axe-core on the opened options; screenshot test-results/console-ingest-options*.png.
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView } from '../support/console-view.js';


/** About 600 characters in sentences, so a 200-character chunk size makes at least 3 chunks. */
const LONG_BODY = Array.from({ length: 8 }, (_, index) => `Entry ${index + 1}: the tide gauge at the outer pier read higher than the almanac foretold.`).join(' ');

describeInBrowser('test/console/app-ingest-options', "the console's ingestion options", () => {
  const suite = consoleSuite();

  it('sends the options filled in with the next upload, and shows the API refusing a bad one without starting a job', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const { account, dataset, page, blocked, problems } = await suite.datasetPage('Tide Office', { name: 'Tide notes', slug: 'tide-notes' });
    await page.locator('#jobs-empty').waitFor();

    // Collapsed by default: the toggle says so and the fields are hidden.
    const toggle = page.locator('#ingest-options > button').first();
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await page.getByLabel('Chunk size').isVisible()).toBe(false);
    await toggle.click();
    await page.getByLabel('Chunk size').waitFor();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    await page.getByLabel('Chunk size').fill('200');
    await page.getByLabel('Chunk overlap').fill('0');
    await page.getByLabel('Text field').fill('body');
    await page.getByLabel('Title field').fill('name');
    expect(await toggle.innerText()).toContain('Options (4 set)');
    await checkView(page, 'ingest-options');

    const records = [
      { name: 'Spring tides', body: LONG_BODY },
      { name: 'Neap tides', body: 'The neap tide barely covered the lower steps.' },
    ];
    await page.locator('#ingest-files').setInputFiles({ name: 'tides.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(records.map((record) => JSON.stringify(record)).join('\n')) });
    await page.locator('#jobs > li[data-status="COMPLETED"]').waitFor({ timeout: 60_000 });

    // Read back through the API: titled by `name`, the text from `body`, chunked by 200.
    const { body } = await server.graphql(`{ dataset(slug: "tide-notes") { documents(first: 10) { edges { node { title chunkCount bytes } } } } }`, {
      token: account.accessToken,
    });
    const documents = body.data.dataset.documents.edges.map((edge: any) => edge.node);
    expect(documents.map((document: any) => document.title).sort()).toEqual(['Neap tides', 'Spring tides']);
    const long = documents.find((document: any) => document.title === 'Spring tides');
    expect(long.bytes).toBe(LONG_BODY.length);
    expect(long.chunkCount).toBeGreaterThanOrEqual(3);
    expect(documents.find((document: any) => document.title === 'Neap tides').chunkCount).toBe(1);

    // A chunk size under 100: the API refuses the call, the panel shows it, no job starts.
    await page.getByLabel('Chunk size').fill('50');
    await page.locator('#ingest-files').setInputFiles({ name: 'more.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(JSON.stringify({ name: 'Ebb', body: 'Low water at noon.' })) });
    const alert = page.getByRole('alert').filter({ hasText: 'Could not ingest' });
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/chunkSize must be 100 to 20000 characters[\s\S]*BAD_USER_INPUT/);
    await networkSettled(page);
    const jobs = await server.graphql(`query($id: ID!) { ingestionJobs(datasetId: $id, first: 10) { edges { node { id } } } }`, { token: account.accessToken, variables: { id: dataset.id } });
    expect(jobs.body.data.ingestionJobs.edges).toHaveLength(1);
    expect(await page.locator('#jobs > li').count()).toBe(1);
    await checkView(page, 'ingest-options-refused');

    expect(blocked).toEqual([]);
    // The refusal's HTTP status, if not 200, is logged by Chromium as a failed load: that one is expected.
    expect(problems.unexpected().filter((problem) => !/status of 400 .*\/graphql\)$/.test(problem))).toEqual([]);
  });
});
