/**
 * GraphiQL offline: in a real headless Chromium with every request to another host refused (a
 * machine offline or behind a firewall), the page at /graphql renders the editor from this
 * server's files and runs a query. Any console error, page error or CSP violation fails the test.
 * Screenshot: test-results/graphiql.png.
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockOtherHosts, browserSkipReason, sharedChromium, watchForProblems } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skipReason = browserSkipReason('test/console/graphiql');

describe.skipIf(skipReason !== undefined)(skipReason ? `GraphiQL (${skipReason})` : 'GraphiQL', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ env: { SLUICE_GRAPHIQL: 'true' } }), sharedChromium()]);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('renders the editor and runs { viewer { kind } } with no other host reachable', { timeout: 90_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const host = new URL(server.baseUrl).host;
    const blocked = await blockOtherHosts(context, host);
    const page = await context.newPage();
    const problems = watchForProblems(page, host);
    try {
      await page.goto(server.url);
      // The query editor is Monaco: wait for it, then replace its text as a person would.
      const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
      await editor.waitFor({ timeout: 30_000 });
      await editor.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Delete');
      await page.keyboard.type('{ viewer { kind } }', { delay: 5 });
      await page.getByRole('button', { name: /execute query/i }).click();
      const response = page.locator('.graphiql-response');
      await response.filter({ hasText: '"ANONYMOUS"' }).waitFor({ timeout: 30_000 });
      expect((await response.innerText()).replace(/\s+/g, '')).toContain('{"data":{"viewer":{"kind":"ANONYMOUS"}}}');
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/graphiql.png' });
      expect(blocked).toEqual([]);
      expect(problems.unexpected()).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
