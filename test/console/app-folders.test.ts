/**
 * Folders in the console's ingestion (issue 21), in a real headless Chromium against the real
 * server and PostgreSQL: a folder with a nested folder dropped on the dashed zone, as the
 * operating system drops one (Chrome DevTools Protocol `Input.dispatchDragEvent` with the
 * folder's path: Chromium builds the same FileSystemEntry tree a real drop gives, which
 * `webkitGetAsEntry` walks). Each file becomes a document named by its path in the dropped
 * folder, so two `gates.md` stay two documents; the unreadable file is skipped with a note.
 * (Choosing a folder with the folder picker is in app-ingest.test.ts.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { must } from '../support/endpoints.js';
import { createDataset } from '../support/ingestion.js';

describeInBrowser('test/console/app-folders', 'folders in the console', () => {
  const suite = consoleSuite();
  let folder: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'sluice-console-drop-'));
  });
  afterAll(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('keeps the paths of a dropped folder’s nested files as source keys and titles', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Harbour Works' });
    await createDataset(server, owner.accessToken, { name: 'Harbour guides', slug: 'harbour-guides' });
    mkdirSync(join(folder, 'harbour', 'locks', 'inner'), { recursive: true });
    writeFileSync(join(folder, 'harbour', 'gates.md'), '# Gates\n\nThe outer gates open at dawn.');
    writeFileSync(join(folder, 'harbour', 'locks', 'gates.md'), '# Lock gates\n\nThe lock gates open at high tide.');
    writeFileSync(join(folder, 'harbour', 'locks', 'inner', 'notes.txt'), 'The inner basin is dredged each spring.');
    writeFileSync(join(folder, 'harbour', 'locks', 'chart.bin'), Buffer.from([0, 1, 2, 3]));

    const { context, page, blocked, problems } = await suite.signedIn(owner);
    // Leave once the datasets view's queries have answered, so what it read is seen, not aborted.
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/datasets/harbour-guides`);
    await page.locator('#documents-empty').waitFor();

    // Drag the folder over the zone and drop it, as the operating system would.
    const zone = (await page.locator('.drop-zone').boundingBox())!;
    const at = { x: zone.x + zone.width / 2, y: zone.y + zone.height / 2 };
    const data = { items: [], files: [join(folder, 'harbour')], dragOperationsMask: 1 };
    const cdp = await context.newCDPSession(page);
    await cdp.send('Input.dispatchDragEvent', { type: 'dragEnter', ...at, data });
    await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', ...at, data });
    await cdp.send('Input.dispatchDragEvent', { type: 'drop', ...at, data });

    await page.locator('#skipped-files').filter({ hasText: 'harbour/locks/chart.bin' }).waitFor();
    await page.locator('#jobs > li[data-status="COMPLETED"]').first().waitFor({ timeout: 60_000 });
    const paths = ['harbour/gates.md', 'harbour/locks/gates.md', 'harbour/locks/inner/notes.txt'];
    for (const path of paths) await page.locator(`#documents-table tbody tr[data-source-key="${path}"]`).waitFor();
    const documents = (await must(server, owner.accessToken, '{ dataset(slug: "harbour-guides") { documents(first: 10) { edges { node { sourceKey title } } } } }')).dataset.documents.edges.map(
      (edge: { node: { sourceKey: string; title: string } }) => `${edge.node.sourceKey}: ${edge.node.title}`,
    );
    expect([...documents].sort()).toEqual(['harbour/gates.md: Gates', 'harbour/locks/gates.md: Lock gates', 'harbour/locks/inner/notes.txt: harbour/locks/inner/notes.txt']);

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
