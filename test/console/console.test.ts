/**
 * The first, one-page web console (/console/classic/) in a real headless Chromium against the real server, worker and
 * PostgreSQL: sign-in errors (wrong password, rate limited), sign in, datasets, a validation
 * error, uploads by file input and by drop with live progress to 100 %, document counts, and
 * a streamed answer from an endpoint. Any browser console error, page error, CSP violation or
 * request to another host fails the test. Screenshot: test-results/console.png.
 *
 * Needs Debian's chromium at /usr/bin/chromium: skipped without it, unless
 * SLUICE_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CONSOLE_POLICY } from '../../src/platform/http/security-headers.js';
import { signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { createDataset } from '../support/ingestion.js';
import { createModel, must, uniqueSlug } from '../support/endpoints.js';
import { browserSkipReason, launchChromium, watchForProblems } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SCREENSHOT = 'test-results/console.png';

const LIGHTHOUSE = '# Lighthouse keeping\n\nThe keeper winds the clockwork lamp every evening at dusk.\n\nFog horns sound when the harbour is blind.\n';
// Large enough (about 600 KB) for the job to report progress more than once.
const HARBOUR = `Harbour notes.\n\n${Array.from({ length: 6000 }, (_, n) => `Mooring log entry ${n}: the ferry left the north quay on schedule.`).join('\n\n')}\n`;
const PIPELINE = ['QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'COMPLETED'];
const TIDES = '<html><head><title>Tide tables</title></head><body><p>High tide comes twice a day, about fifty minutes later each day.</p></body></html>';

const skipReason = browserSkipReason('test/console');

describe.skipIf(skipReason !== undefined)(skipReason ? `the web console (${skipReason})` : 'the web console', () => {
  let server: TestServer;
  let owner: SignedUp;
  let dataset: { id: string; slug: string };
  let reference: string;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({
      env: {
        // No origin of its own on the allow-list: the page's WebSocket must pass as same-origin.
        CORS_ORIGINS: 'https://elsewhere.example.test',
        // Sign-in limits on (three attempts per email), everything else out of the way.
        SLUICE_RATE_LIMITS: 'on',
        SLUICE_AUTH_LIMIT_PER_EMAIL: '3/15m',
        SLUICE_AUTH_LIMIT_PER_IP: '1000/15m',
        SLUICE_RATE_LIMIT_PER_SECOND: '1000',
        SLUICE_RATE_LIMIT_BURST: '1000',
        SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000',
        SLUICE_IP_RATE_LIMIT_BURST: '1000',
      },
    });
    owner = await signUp(server, { tenantName: 'Harbour Works' });
    // An empty dataset with an endpoint over it (extractive: no network); the page fills it.
    dataset = await createDataset(server, owner.accessToken, { name: 'Lighthouse handbook' });
    const model = await createModel(server, owner.accessToken, { name: uniqueSlug('extractive'), type: 'extractive' });
    const created = await must(server, owner.accessToken, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }`, {
      input: { name: 'Lighthouse', slug: uniqueSlug('lighthouse'), datasetIds: [dataset.id], modelId: model.id },
    });
    reference = created.createEndpoint.reference;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('is served at /console (the application) and /console/classic/ (this page) with its own Content-Security-Policy, and graphql-ws without bare imports', async () => {
    for (const [from, to] of [['/console', '/console/'], ['/console/classic', '/console/classic/']]) {
      const redirect = await fetch(`${server.baseUrl}${from}`, { redirect: 'manual' });
      expect([redirect.status, redirect.headers.get('location')]).toEqual([308, to]);
    }
    const app = await fetch(`${server.baseUrl}/console/`);
    expect(await app.text()).toContain('<script type="module" src="/console/assets/app.js"></script>');
    // Every in-app path answers the application's page (its router reads the URL).
    expect(await (await fetch(`${server.baseUrl}/console/datasets/some-slug`)).text()).toContain('/console/assets/app.js');
    const page = await fetch(`${server.baseUrl}/console/classic/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_POLICY);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await page.text()).toContain('<script type="module" src="main.js"></script>');
    for (const file of ['classic/main.js', 'classic/api.js', 'classic/console.css', 'classic/vendor/graphql-ws/client.js', 'assets/app.js', 'assets/app.css']) {
      const response = await fetch(`${server.baseUrl}/console/${file}`);
      expect({ file, status: response.status, csp: response.headers.get('content-security-policy') }).toEqual({ file, status: 200, csp: CONSOLE_POLICY });
      expect(response.headers.get('content-type')).toMatch(file.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      const imports = [...(await response.text()).matchAll(/^\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]/gm)].map(([, path]) => path);
      for (const path of imports) expect(path).toMatch(/^\.\.?\//);
    }
    expect((await fetch(`${server.baseUrl}/console/../src/config.ts`)).status).not.toBe(200);
    expect((await fetch(`${server.baseUrl}/console/serve.ts`)).status).toBe(404);
    expect((await fetch(`${server.baseUrl}/console/classic/serve.ts`)).status).toBe(404);
    expect((await fetch(`${server.baseUrl}/console/`, { method: 'POST', body: 'x' })).status).toBe(405);
    // The API (and a path that only starts like the console's) keeps its own policy.
    const apiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
    const api = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ viewer { kind } }"}' });
    expect(api.headers.get('content-security-policy')).toBe(apiPolicy);
    expect((await fetch(`${server.baseUrl}/consoles`)).headers.get('content-security-policy')).toBe(apiPolicy);
  });

  it("accepts the WebSocket of a page of the server's own origin, not of look-alikes, whatever CORS_ORIGINS lists", async () => {
    const own = new URL(server.baseUrl);
    const upgrade = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { origin });
        socket.on('open', () => {
          socket.close();
          resolve(101);
        });
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('error', (error) => (error.message.includes('Unexpected server response') ? undefined : reject(error)));
      });
    expect(await upgrade(own.origin)).toBe(101);
    expect(await upgrade(`https://${own.host}`)).toBe(101);
    expect(await upgrade('https://evil.example')).toBe(403);
    expect(await upgrade(`http://${own.hostname}.evil.example:${own.port}`)).toBe(403);
    expect(await upgrade(`http://${own.hostname}:1`)).toBe(403);
  });

  it('signs in, uploads with live progress to 100 %, counts documents and streams an answer', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const problems = watchForProblems(page, new URL(server.baseUrl).host);
    try {
      await page.goto(`${server.baseUrl}/console/classic`);
      expect(new URL(page.url()).pathname).toBe('/console/classic/');

      // Sign-in errors: an unknown account three times, then the per-email limit.
      const stranger = uniqueEmail('stranger');
      const signInError = page.locator('#sign-in-error');
      const unknown = /Invalid email or password \(UNAUTHENTICATED\)/;
      for (const expected of [unknown, unknown, unknown, /Too many sign-in attempts.*retry in \d+ s.*\(RATE_LIMITED\)/]) {
        await signIn(page, stranger, 'not the password');
        await signInError.filter({ hasText: expected }).waitFor();
      }
      await signIn(page, owner.email, 'wrong password!');
      await signInError.filter({ hasText: /Invalid email or password/ }).waitFor();
      expect(await page.locator('#workspace').isHidden()).toBe(true);

      await signIn(page, owner.email, owner.password);
      await page.locator('#workspace').waitFor();
      expect(await page.locator('#whoami').textContent()).toContain(owner.email);
      expect(await signInError.textContent()).toBe('');
      await cell(page, dataset.slug, 'documents').filter({ hasText: /^0$/ }).waitFor();
      // The token stays in this tab's sessionStorage at most.
      expect(await page.evaluate(() => [localStorage.length, Object.keys(sessionStorage)])).toEqual([0, ['sluice.console.session']]);

      // A validation error, then a dataset created from the page (selected for uploads).
      await page.fill('#dataset-name', 'Scratch');
      await page.fill('#dataset-slug', 'Not A Slug!');
      await page.click('#create-dataset-form button[type="submit"]');
      await page.locator('#datasets-error').filter({ hasText: /BAD_USER_INPUT/ }).waitFor();
      const scratch = uniqueSlug('scratch');
      await page.fill('#dataset-slug', scratch);
      await page.click('#create-dataset-form button[type="submit"]');
      await cell(page, scratch, 'documents').filter({ hasText: /^0$/ }).waitFor();
      expect(await page.locator('#datasets-error').textContent()).toBe('');
      expect(await page.locator('#upload-dataset option:checked').textContent()).toContain(scratch);

      // Two files through the file input, into the endpoint's dataset.
      await page.selectOption('#upload-dataset', dataset.id);
      await recordJobUpdates(page);
      await page.setInputFiles('#file-input', [
        { name: 'lighthouse.md', mimeType: 'text/markdown', buffer: Buffer.from(LIGHTHOUSE) },
        { name: 'harbour.txt', mimeType: 'text/plain', buffer: Buffer.from(HARBOUR) },
      ]);
      const first = page.locator('.job', { hasText: 'lighthouse.md, harbour.txt' });
      await first.and(page.locator('[data-stage="COMPLETED"]')).waitFor({ timeout: 60_000 });
      expect(await first.locator('progress').evaluate((bar: HTMLProgressElement) => bar.value)).toBe(100);
      expect(await first.locator('.job-counts').textContent()).toMatch(/^100 % · 2 of 2 inputs · [1-9]\d* chunks?$/);
      expect(await first.locator('.job-documents li').allTextContents()).toEqual(
        expect.arrayContaining([expect.stringMatching(/^lighthouse\.md: indexed, 1 document, \d+ chunks?$/), expect.stringMatching(/^harbour\.txt: indexed/)]),
      );
      await cell(page, dataset.slug, 'documents').filter({ hasText: /^2$/ }).waitFor();
      // What the bar showed as events arrived: stages in pipeline order, percents never going back.
      const shown: [string, number][] = await page.evaluate(() => (window as any).jobUpdates['lighthouse.md, harbour.txt']);
      expect(shown.at(-1)).toEqual(['COMPLETED', 100]);
      expect(shown.map(([stage]) => PIPELINE.indexOf(stage))).toEqual(shown.map(([stage]) => PIPELINE.indexOf(stage)).sort((a, b) => a - b));
      expect(shown.map(([, percent]) => percent)).toEqual(shown.map(([, percent]) => percent).sort((a, b) => a - b));

      // A third file dropped on the drop zone.
      const dataTransfer = await page.evaluateHandle((html) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([html], 'tides.html', { type: 'text/html' }));
        return transfer;
      }, TIDES);
      await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
      const dropped = page.locator('.job', { hasText: 'tides.html' });
      await dropped.and(page.locator('[data-stage="COMPLETED"]')).waitFor({ timeout: 60_000 });
      expect(await dropped.locator('progress').evaluate((bar: HTMLProgressElement) => bar.value)).toBe(100);
      await cell(page, dataset.slug, 'documents').filter({ hasText: /^3$/ }).waitFor();
      expect(Number(await cell(page, dataset.slug, 'chunks').textContent())).toBeGreaterThanOrEqual(3);
      expect(await cell(page, scratch, 'documents').textContent()).toBe('0');
      expect(await page.locator('#progress-announcer').textContent()).toMatch(/tides\.html: completed, 100 %/);

      // Ask the endpoint: passages and the streamed answer.
      await page.fill('#endpoint', reference);
      await page.fill('#question', 'When does the keeper wind the clockwork lamp?');
      await page.click('#ask');
      await page.locator('#query-status').filter({ hasText: /^Answered in \d+ ms · [1-9] citation/ }).waitFor();
      expect(await page.locator('#answer').textContent()).toMatch(/clockwork lamp every evening/);
      expect(await page.locator('#passages li').first().textContent()).toContain('Lighthouse keeping');
      expect(await page.locator('#passages li mark').count()).toBeGreaterThan(0);
      expect(await page.locator('#query-error').textContent()).toBe('');

      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // A reload keeps the session (this tab's sessionStorage); signing out ends it on the server too.
      await page.reload();
      await cell(page, dataset.slug, 'documents').filter({ hasText: /^3$/ }).waitFor();
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.session') ?? '{}').accessToken);
      expect((await server.graphql('{ viewer { kind } }', { token })).body.data?.viewer.kind).toBe('USER');
      await page.click('#sign-out');
      await page.locator('#sign-in').waitFor();
      expect(await page.locator('#workspace').isHidden()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      await expect.poll(async () => (await server.graphql('{ viewer { kind } }', { token })).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

      // A session ended elsewhere: the page's next request takes it back to the sign-in form.
      await signIn(page, owner.email, owner.password);
      await page.locator('#workspace').waitFor();
      const second = await page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.session') ?? '{}').accessToken);
      await must(server, second, 'mutation { logOut }');
      await page.click('#datasets-refresh');
      await signInError.filter({ hasText: /Your session ended: sign in again/ }).waitFor();
      expect(await page.locator('#workspace').isHidden()).toBe(true);

      // Nothing went wrong in the browser besides the refusals asked for above.
      expect(problems.unexpected()).toEqual([]);
      expect(problems.refusedStatuses()).toEqual([401, 401, 401, 429, 401, 401]);
    } finally {
      await context.close();
    }
  });
});

async function signIn(page: Page, email: string, password: string) {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForResponse((response) => response.url().endsWith('/graphql')), page.click('#sign-in-form button[type="submit"]')]);
}

/** Records, per job title, each [stage, percent] its list item shows (window.jobUpdates). */
async function recordJobUpdates(page: Page) {
  await page.evaluate(() => {
    const updates: Record<string, [string, number][]> = ((window as any).jobUpdates = {});
    const record = (job: Element) => {
      const title = job.querySelector('.job-title')?.textContent ?? '';
      const entry: [string, number] = [job.getAttribute('data-stage') ?? '', Number(job.querySelector('progress')?.getAttribute('value'))];
      const seen = (updates[title] ??= []);
      if (seen.at(-1)?.join() !== entry.join()) seen.push(entry);
    };
    new MutationObserver((mutations) => {
      for (const mutation of mutations) {
        const job = mutation.target instanceof Element ? mutation.target.closest('.job') : null;
        if (job) record(job);
        for (const node of mutation.addedNodes) if (node instanceof Element && node.matches('.job')) record(node);
      }
    }).observe(document.getElementById('jobs')!, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-stage', 'value'] });
  });
}

function cell(page: Page, slug: string, field: 'documents' | 'chunks') {
  return page.locator(`#datasets tr[data-slug="${slug}"] td[data-field="${field}"]`);
}
