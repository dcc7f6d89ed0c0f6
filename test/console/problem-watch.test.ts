/**
 * The browser tests' problem watch (test/support/browser.ts) on a page of its own, served by a
 * plain Node server that holds each `/slow` request open until the test lets it go: a request
 * the test's own reload aborts is not a problem (the browser drops the old document's
 * requests), a request the page itself aborts is one, even after a move between views made
 * with history.pushState (the console's own navigation).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sharedChromium, watchForProblems } from '../support/browser.js';
import { describeInBrowser } from '../support/console-suite.js';

describeInBrowser('test/console/problem-watch', 'the browser tests’ problem watch', () => {
  const held: ServerResponse[] = [];
  const arrived: (() => void)[] = [];
  const server = createServer((request, response) => {
    if (request.url === '/slow') {
      held.push(response);
      for (const resolve of arrived.splice(0)) resolve();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>watch</title><p>page</p>');
  });
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await sharedChromium();
  });
  afterAll(async () => {
    for (const response of held.splice(0)) response.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A page with a `/slow` request in flight, held by the server. */
  async function pageWithSlowRequest(): Promise<{ page: Page; problems: ReturnType<typeof watchForProblems> }> {
    const page = await browser.newPage();
    const problems = watchForProblems(page, new URL(base).host);
    await page.goto(base);
    const inHand = new Promise<void>((resolve) => arrived.push(resolve));
    await page.evaluate(() => {
      const abort = new AbortController();
      (window as unknown as { abortSlow: () => void }).abortSlow = () => abort.abort();
      fetch('/slow', { signal: abort.signal }).catch(() => undefined);
    });
    await inHand;
    return { page, problems };
  }

  it('excuses the requests a reload leaves behind, and nothing after it', async () => {
    const { page, problems } = await pageWithSlowRequest();
    const failed = page.waitForEvent('requestfailed');
    await page.reload();
    expect((await failed).failure()?.errorText).toBe('net::ERR_ABORTED');
    expect(problems.unexpected()).toEqual([]);

    // In the new document the watch counts again.
    const inHand = new Promise<void>((resolve) => arrived.push(resolve));
    await page.evaluate(() => {
      const abort = new AbortController();
      fetch('/slow', { signal: abort.signal }).catch(() => undefined);
      (window as unknown as { abortSlow: () => void }).abortSlow = () => abort.abort();
    });
    await inHand;
    const failedAgain = page.waitForEvent('requestfailed');
    await page.evaluate(() => (window as unknown as { abortSlow: () => void }).abortSlow());
    await failedAgain;
    expect(problems.unexpected()).toEqual([`request failed: ${base}/slow net::ERR_ABORTED`]);
    await page.close();
  });

  it('counts a request the page aborts itself, also after a history.pushState move', async () => {
    const { page, problems } = await pageWithSlowRequest();
    await page.evaluate(() => history.pushState({}, '', '/another-view'));
    const failed = page.waitForEvent('requestfailed');
    await page.evaluate(() => (window as unknown as { abortSlow: () => void }).abortSlow());
    await failed;
    expect(problems.unexpected()).toEqual([`request failed: ${base}/slow net::ERR_ABORTED`]);
    await page.close();
  });
});
