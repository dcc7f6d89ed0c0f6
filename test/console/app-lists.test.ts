/**
 * A list longer than 100 in the console (issue 21): 120 datasets, made through GraphQL, read
 * in the browser 50 at a time with "Load more" (the connection's pageInfo and cursor), every
 * one shown once and the button gone at the end; the new-endpoint form then offers all of them.
 * Real Chromium, server and PostgreSQL.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, launchChromium, networkSettled } from '../support/browser.js';
import { consolePage, signInThroughConsole } from '../support/console-view.js';
import { must } from '../support/endpoints.js';
import { signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skipReason = browserSkipReason('test/console/app-lists');
const COUNT = 120;
/** The server's default alias limit (SLUICE_MAX_ALIASES) is 15: that many creations per request. */
const PER_REQUEST = 15;

describe.skipIf(skipReason !== undefined)(skipReason ? `the console's long lists (${skipReason})` : "the console's long lists", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it(`shows all ${COUNT} datasets with Load more, each once, and offers each for a new endpoint`, { timeout: 120_000 }, async () => {
    const owner = await signUp(server, { tenantName: 'Long Shelf' });
    const names = Array.from({ length: COUNT }, (_, index) => `Shelf ${String(index + 1).padStart(3, '0')}`);
    for (let start = 0; start < COUNT; start += PER_REQUEST) {
      const batch = names.slice(start, start + PER_REQUEST);
      const fields = batch.map((name, index) => `d${index}: createDataset(input: { name: "${name}", slug: "${name.toLowerCase().replace(' ', '-')}" }) { id }`);
      await must(server, owner.accessToken, `mutation { ${fields.join('\n')} }`);
    }

    const { context, page, blocked, problems } = await consolePage(browser, server.baseUrl);
    try {
      await signInThroughConsole(page, server.baseUrl, owner);
      const rows = page.locator('#datasets-table tbody tr');
      await rows.nth(49).waitFor();
      expect(await rows.count()).toBe(50);
      const more = page.getByRole('button', { name: 'Load more' });
      await more.click();
      await rows.nth(99).waitFor();
      expect(await rows.count()).toBe(100);
      await more.click();
      await rows.nth(COUNT - 1).waitFor();
      await more.waitFor({ state: 'detached' });
      const shown = await rows.locator('td:first-child').allInnerTexts();
      expect(shown).toHaveLength(COUNT);
      expect([...shown].sort()).toEqual(names);

      // The new-endpoint form offers every dataset, the 101st to the 120th too (read 100 a request).
      await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
      await page.getByLabel(new RegExp(`^${names[COUNT - 1]} `)).waitFor();
      const offered = await page.locator('input[type=checkbox][name=datasetIds]').count();
      expect(offered).toBe(COUNT);
      await page.getByLabel(new RegExp(`^${names[COUNT - 1]} `)).check();
      expect(await page.getByLabel(new RegExp(`^${names[COUNT - 1]} `)).isChecked()).toBe(true);

      await networkSettled(page);
      expect(blocked).toEqual([]);
      expect(problems.unexpected()).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
