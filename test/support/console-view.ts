/**
 * A console view as the browser tests check it: axe-core (WCAG 2.1 A and AA rules) must find
 * no serious or critical violation, then a screenshot goes to test-results/console-<name>.png
 * (docs/console.md shows copies of some).
 *
 * axe-core itself rather than @axe-core/playwright, which declares Node 22 (issue 22: a quiet
 * install on Node 20): injected as that package does, with page.evaluate, which runs outside
 * the page's content security policy (a script tag would be refused).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults } from 'axe-core';
import type { Browser, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { blockOtherHosts, networkSettled, watchForProblems } from './browser.js';

export const SHOTS = 'test-results';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RULES = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe-core's findings on the page as it is, for the given rule tags. */
export async function axe(page: Page, tags: string[] = RULES): Promise<AxeResults> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(
    (values) => (window as unknown as { axe: { run(context: Document, options: object): Promise<AxeResults> } }).axe.run(document, { runOnly: { type: 'tag', values } }),
    tags,
  );
}

export async function checkView(page: Page, name: string, { fullPage = true } = {}): Promise<void> {
  // Wait for transitions to end, so axe never measures a half-faded colour.
  await page.evaluate(() => Promise.all(document.getAnimations().map((animation) => animation.finished)));
  const { violations } = await axe(page);
  const grave = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(grave.map(({ id, help, nodes }) => ({ view: name, id, help, targets: nodes.map((node) => node.target.join(' ')) }))).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/console-${name}.png`, fullPage });
}

/**
 * Nothing on the page is wider than the screen (no sideways scrolling). Polled: after a resize,
 * charts and tables lay out again on the next frames (Chart.js through a ResizeObserver), and a
 * busy machine can measure the old width first; a page that stays too wide still fails.
 */
export async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const width = page.viewportSize()!.width;
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth), { timeout: 10_000 }).toBeLessThanOrEqual(width);
}

/**
 * A page in a new browser context on the test server, every other host refused, and what it
 * reports (browser.ts). Reduced motion: Bootstrap then skips its fades and slides.
 */
export async function consolePage(browser: Browser, baseUrl: string, viewport = { width: 1200, height: 900 }) {
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
  const host = new URL(baseUrl).host;
  const blocked = await blockOtherHosts(context, host);
  const page = await context.newPage();
  const problems = watchForProblems(page, host);
  return { context, page, blocked, problems };
}

/** Signs in through the console's sign-in view; resolves once the datasets view is shown. */
export async function signInThroughConsole(page: Page, baseUrl: string, account: { email: string; password: string }): Promise<void> {
  await page.goto(`${baseUrl}/console/sign-in`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
}

/**
 * Opens a dataset's page and resolves once its heading shows and its live feed of the dataset's
 * jobs is subscribed (the subscribe message has left the page: from then on, changes reach the
 * page through it) and nothing is in flight.
 */
export async function openDatasetPage(page: Page, baseUrl: string, dataset: { slug: string; name: string }): Promise<void> {
  await networkSettled(page);
  const subscribed = new Promise<void>((resolve) => {
    page.on('websocket', (socket) => socket.on('framesent', ({ payload }) => String(payload).includes('datasetIngestion') && resolve()));
  });
  await page.goto(`${baseUrl}/console/datasets/${dataset.slug}`);
  await page.getByRole('heading', { name: dataset.name, level: 1 }).waitFor();
  await subscribed;
  await networkSettled(page);
}

/**
 * The console's error alert titled `title` (e.g. "Could not add the policy"), once it shows the
 * API's `code`; it must also give the API's `message`. Returned for a view check or Dismiss.
 */
export async function expectRefusal(page: Page, { title, code, message }: { title: string; code: string; message: string }): Promise<Locator> {
  const alert = page.getByRole('alert').filter({ hasText: title });
  await alert.filter({ hasText: code }).waitFor();
  expect(await alert.innerText()).toContain(message);
  return alert;
}

/**
 * Deleting asks first: `open()` brings up the dialog named `dialog`, `asked(dialog)` checks it
 * (a view check), "Keep it" closes it and `kept()` checks nothing went; then `open()` again and
 * "Delete". The caller checks what deleting did.
 */
export async function deleteAfterKeeping(
  page: Page,
  { dialog, open, asked, kept }: { dialog: string; open: () => Promise<void>; asked?: (dialog: Locator) => Promise<void>; kept: () => Promise<void> },
): Promise<void> {
  const confirm = page.getByRole('dialog', { name: dialog });
  await open();
  await confirm.waitFor();
  await asked?.(confirm);
  await confirm.getByRole('button', { name: 'Keep it' }).click();
  await confirm.waitFor({ state: 'detached' });
  await kept();
  await open();
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
}

/** Every GraphQL error the page's requests were answered with ("path: CODE"), once each answer is read. */
export function refusedFields(page: Page): () => Promise<string[]> {
  const reads: Promise<string[]>[] = [];
  page.on('response', (response) => {
    if (!response.url().endsWith('/graphql') || !(response.headers()['content-type'] ?? '').includes('json')) return;
    reads.push(
      response
        .json()
        .then((body: { errors?: { path?: string[]; extensions?: { code?: string } }[] }) => (body.errors ?? []).map((error) => `${(error.path ?? []).join('.')}: ${error.extensions?.code}`)),
    );
  });
  return async () => (await Promise.all(reads)).flat();
}
