/**
 * The console's ingestion and documents views (issue 21) in a real headless Chromium against
 * the real server, worker and PostgreSQL, every request to another host refused: files chosen
 * on a dataset's page (one Sluice cannot read skipped with a note, one that fails to parse
 * named as a failure), the upload's bar and the job's bar moving (inside the one group its
 * chapters settle in), the job's status
 * "Completed with failures", the history after a reload, documents searched by title, one
 * deleted (asked first), one re-ingested from a new file, a folder chosen (its files keep their
 * paths), and the page on a 390 px screen.
 *
 * Chromium's upload is throttled (DevTools network emulation) so the upload takes long enough
 * for its bar to be seen between 0 and 100 %. The bars' values are recorded in the page by a
 * MutationObserver (an init script: every value the page showed, not the few a poll catches).
 * Every view is checked with axe-core: no serious or critical violation. Screenshots:
 * test-results/console-ingest-*.png (docs/console.md shows some).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { createDataset } from '../support/ingestion.js';
import { axe, deleteAfterKeeping, expectNoSidewaysScroll, SHOTS, signInThroughConsole } from '../support/console-view.js';

/** A Markdown chapter of about `bytes` bytes, its title from its first heading. */
function chapter(title: string, bytes: number): Buffer {
  const paragraph = `The keeper of ${title.toLowerCase()} trims the wick, winds the clockwork and logs the weather at every watch. `;
  return Buffer.from(`# ${title}\n\n${Array.from({ length: Math.ceil(bytes / paragraph.length) }, (_, index) => `${paragraph}${index % 8 === 7 ? '\n\n' : ''}`).join('')}`);
}

describeInBrowser('test/console/app-ingest', "the console's ingestion views", () => {
  // Progress events as often as the worker records them, so the job's bar moves between inputs.
  const suite = consoleSuite({ server: { env: { SLUICE_PROGRESS_INTERVAL_MS: '0' } } });

  it('ingests files with upload and job progress, names a failure, keeps the history, and searches, deletes and re-ingests documents', { timeout: 240_000 }, async () => {
    const { server } = suite;
    const account = await suite.signUp({ tenantName: 'Harbour Works' });
    const dataset = await createDataset(server, account.accessToken, { name: 'Keepers log', slug: 'keepers-log' });
    const { context, page, blocked, problems } = await suite.openPage();
    await page.addInitScript(() => {
      const seen = { upload: [] as number[], job: [] as number[] };
      (window as unknown as { seenBars: typeof seen }).seenBars = seen;
      const record = (list: number[], element: Element | null) => {
        const value = Number(element?.getAttribute('aria-valuenow'));
        if (element && list[list.length - 1] !== value) list.push(value);
      };
      new MutationObserver(() => {
        record(seen.upload, document.querySelector('#upload-progress'));
        record(seen.job, document.querySelector('#jobs > li:first-child .job-progress [role="progressbar"]'));
      }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    await signInThroughConsole(page, server.baseUrl, account);
    // Leave once the view's queries have answered, so what it read is seen, not aborted.
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/datasets/keepers-log`);
    await page.getByRole('heading', { name: 'Keepers log', level: 1 }).waitFor();

    // Empty: both say what to do next.
    await page.locator('#documents-empty').filter({ hasText: 'No documents yet' }).waitFor();
    await page.locator('#jobs-empty').filter({ hasText: 'drop or choose files' }).waitFor();
    await view(page, 'ingest-empty');

    // Choose files: six chapters, one broken JSON file, one picture. The upload is throttled
    // to 2 MiB/s so its bar is seen moving.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });
    const chapters = [1, 2, 3, 4, 5, 6].map((n) => ({ name: `chapter-${n}.md`, mimeType: 'text/markdown', buffer: chapter(`Chapter ${n}`, 700_000) }));
    await page.locator('#ingest-files').setInputFiles([
      ...chapters,
      { name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('{"text": "unterminated') },
      { name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
    ]);
    const skipped = page.locator('#skipped-files');
    await skipped.waitFor();
    expect(await skipped.innerText()).toMatch(/Skipped 1 file:\s*photo\.png: its type image\/png is not one Sluice reads/);
    await page.locator('#upload').filter({ hasText: 'Uploading 7 files' }).waitFor();
    await view(page, 'ingest-uploading', { accessibility: false });
    const job = page.locator('#jobs > li').first();
    await job.waitFor();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    // The job runs to its end, which says that an input failed, and names it with its reason.
    await page.locator('#jobs > li[data-status="COMPLETED_WITH_FAILURES"]').waitFor({ timeout: 120_000 });
    expect(await job.locator('.job-status').innerText()).toBe('Completed with failures');
    expect(await job.locator('.failed-inputs li').allInnerTexts()).toEqual([expect.stringMatching(/^broken\.json: not valid for its format \(PARSE_ERROR\) — /)]);
    expect(await job.locator('.job-figures').innerText()).toMatch(/^completed · 100 % · documents 7 of 7 · chunks \d+ · .* MB\/s$/);
    const seen = await page.evaluate(() => (window as unknown as { seenBars: { upload: number[]; job: number[] } }).seenBars);
    expect(seen.upload.some((value) => value > 0 && value < 100), `upload bar values: ${seen.upload}`).toBe(true);
    // The job bar starts empty, ends full, and never goes back. The 4 MB of chapters settle in
    // one group (one transaction), yet the bar moves inside it, as each chapter is parsed and
    // chunked: it shows values strictly between 0 and 100.
    expect([seen.job[0], seen.job.at(-1)], `job bar values: ${seen.job}`).toEqual([0, 100]);
    expect(seen.job, `job bar values: ${seen.job}`).toEqual([...seen.job].sort((a, b) => a - b));
    expect(seen.job.filter((value) => value > 0 && value < 100).length, `job bar values: ${seen.job}`).toBeGreaterThanOrEqual(2);
    await page.locator('#dataset-facts dd[data-field="documents"]').filter({ hasText: '6' }).waitFor();
    await page.locator('#documents-table tbody tr').nth(5).waitFor();
    await view(page, 'ingest-job');

    // After a reload the job is still there, from the API, with its failure named.
    // No query in flight: the reload shows the history as the API keeps it, not a half-read page.
    await networkSettled(page);
    await page.reload();
    const again = page.locator('#jobs > li[data-status="COMPLETED_WITH_FAILURES"]');
    await again.waitFor();
    expect(await again.locator('.failed-inputs').innerText()).toContain('broken.json');
    expect(await again.locator('h3').innerText()).toBe('chapter-1.md, chapter-2.md, chapter-3.md and 4 more');
    await view(page, 'ingest-history');

    // Documents: searched by title.
    await page.getByLabel('Search documents by title').fill('chapter 3');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.locator('#documents-table tbody tr td:first-child').allInnerTexts()).toEqual(['Chapter 3']);
    await view(page, 'documents-search');
    await page.getByLabel('Search documents by title').fill('no such chapter');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('#documents-empty').filter({ hasText: 'No document’s title contains “no such chapter”' }).waitFor();
    await page.getByLabel('Search documents by title').fill('chapter 3');
    await page.getByRole('button', { name: 'Search', exact: true }).click();

    // Deleting one asks first; "Keep it" keeps it, "Delete" deletes it and the counts follow.
    await deleteAfterKeeping(page, {
      dialog: 'Delete “Chapter 3”?',
      open: () => page.getByRole('button', { name: 'Delete Chapter 3' }).click(),
      asked: () => view(page, 'document-delete', { fullPage: false }),
      kept: async () => expect(await page.locator('#documents-table tbody tr').count()).toBe(1),
    });
    await page.locator('#documents-empty').filter({ hasText: '“chapter 3”' }).waitFor();
    await page.locator('#dataset-facts dd[data-field="documents"]').filter({ hasText: '5' }).waitFor();
    const titles = async () =>
      (await server.graphql(`{ dataset(slug: "keepers-log") { documents(first: 50) { edges { node { title sourceKey } } } } }`, { token: account.accessToken })).body.data.dataset.documents.edges.map(
        (edge: any) => `${edge.node.sourceKey}: ${edge.node.title}`,
      );
    expect(await titles()).not.toContain('chapter-3.md: Chapter 3');

    // Re-ingest one from a new file: it replaces that document (same source), not adds one.
    await page.getByLabel('Search documents by title').fill('');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('#documents-table tbody tr').nth(4).waitFor();
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByRole('button', { name: 'Re-ingest Chapter 2 from a file' }).click()]);
    await chooser.setFiles({ name: 'new-draft.md', mimeType: 'text/markdown', buffer: Buffer.from('# Chapter 2, revised\n\nThe lamp now turns on a bath of mercury.') });
    const rerun = page.locator('#jobs > li').first();
    await expect.poll(() => rerun.getAttribute('data-job-id')).not.toBe(await again.getAttribute('data-job-id'));
    await page.locator('#jobs > li[data-status="COMPLETED"]').first().waitFor({ timeout: 60_000 });
    expect(await rerun.locator('h3').innerText()).toBe('chapter-2.md');
    await page.locator('#documents-table tbody tr[data-source-key="chapter-2.md"] td:first-child').filter({ hasText: 'Chapter 2, revised' }).waitFor();
    expect(await page.locator('#dataset-facts dd[data-field="documents"]').innerText()).toBe('5');
    expect((await titles()).filter((title: string) => title.startsWith('chapter-2.md'))).toEqual(['chapter-2.md: Chapter 2, revised']);

    // A folder: its files keep their paths (two gates.md stay two documents); an unreadable one is skipped.
    const folder = mkdtempSync(join(tmpdir(), 'sluice-console-folder-'));
    mkdirSync(join(folder, 'guides', 'inner'), { recursive: true });
    writeFileSync(join(folder, 'guides', 'gates.md'), '# Gates\n\nThe outer gates open at dawn.');
    writeFileSync(join(folder, 'guides', 'inner', 'gates.md'), '# Inner gates\n\nThe inner gates close at dusk.');
    writeFileSync(join(folder, 'guides', 'logo.bin'), Buffer.from([0, 1, 2, 3]));
    const before = await page.locator('#jobs > li').count();
    await page.locator('#ingest-folder').setInputFiles(join(folder, 'guides'));
    await expect.poll(() => page.locator('#jobs > li').count()).toBe(before + 1);
    expect(await page.locator('#skipped-files').innerText()).toMatch(/guides\/logo\.bin: \.bin files are not a format Sluice reads/);
    await page.locator('#jobs > li').first().and(page.locator('[data-status="COMPLETED"]')).waitFor({ timeout: 60_000 });
    expect(await titles()).toEqual(expect.arrayContaining(['guides/gates.md: Gates', 'guides/inner/gates.md: Inner gates']));
    // The page lists them under those paths too.
    for (const path of ['guides/gates.md', 'guides/inner/gates.md']) await page.locator(`#documents-table tbody tr[data-source-key="${path}"]`).waitFor();
    rmSync(folder, { recursive: true, force: true });

    // A narrow screen: nothing wider than it.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#jobs').waitFor();
    await expectNoSidewaysScroll(page);
    await view(page, 'ingest-narrow');

    expect(dataset.slug).toBe('keepers-log');
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});

/** axe-core on the page as it is (no serious or critical violation), then its screenshot. */
async function view(page: Page, name: string, { fullPage = true, accessibility = true } = {}) {
  await page.evaluate(() => Promise.all(document.getAnimations().filter((animation) => animation.effect?.getTiming().iterations !== Infinity).map((animation) => animation.finished)));
  if (accessibility) {
    const { violations } = await axe(page);
    const grave = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
    expect(grave.map(({ id, help, nodes }) => ({ view: name, id, help, targets: nodes.map((node) => node.target.join(' ')) }))).toEqual([]);
  }
  await page.screenshot({ path: `${SHOTS}/console-ingest-${name}.png`, fullPage });
}
