/**
 * Debian's Chromium through playwright-core, for the browser tests (test/console): launching
 * it, skipping without it (unless SLUICE_REQUIRE_BROWSER=1, as in CI), and watching a page for
 * anything that went wrong.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Why a browser test file skips (no Chromium and not required), or undefined: it runs. */
export function browserSkipReason(file: string): string | undefined {
  if (existsSync(CHROMIUM) || process.env.SLUICE_REQUIRE_BROWSER === '1') return undefined;
  const reason = `skipped: no ${CHROMIUM} (apt-get install chromium); SLUICE_REQUIRE_BROWSER=1 makes this a failure`;
  console.warn(`${file}: ${reason}`);
  return reason;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`SLUICE_REQUIRE_BROWSER=1 but ${CHROMIUM} does not exist: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS });
}

/** This worker's Chromium (sharedChromium); relaunched if it went away. */
let shared: Promise<Browser> | undefined;

/**
 * One Chromium for every browser test file a worker runs, launched on first use: a launch and
 * close cost about 2 s of CPU per file, some 30 files a run. Files never close it; each opens
 * and closes its own contexts, which keep their cookies and storage apart. The module lives as
 * long as the worker (vitest.config.ts: isolate false), and playwright kills the browsers it
 * launched when the process exits (and Chromium ends when its pipe to the process closes).
 */
export function sharedChromium(): Promise<Browser> {
  const previous = shared;
  shared = (async () => {
    const browser = await previous?.catch(() => undefined);
    return browser?.isConnected() ? browser : launchChromium();
  })();
  return shared;
}

/**
 * Aborts every request to a host other than `host` (the test server), as a machine offline or
 * behind a firewall would see it; returns the URLs that were refused.
 */
export async function blockOtherHosts(context: BrowserContext, host: string): Promise<string[]> {
  const blocked: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.host === host) return route.continue();
    blocked.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  return blocked;
}

/**
 * Console errors, page errors, CSP violations and requests to other hosts. Chromium logs the
 * refusals the test asks for (401 wrong password, 429 rate limited) as "Failed to load
 * resource" errors: those are let through (their statuses are checked), the rest is unexpected.
 */
export function watchForProblems(page: Page, host: string) {
  const unexpected: string[] = [];
  const refusedStatuses: number[] = [];
  trackRequests(page);
  page.on('response', (response) => {
    if (response.status() >= 400) refusedStatuses.push(response.status());
  });
  void page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = `${message.text()} (${message.location().url})`;
    const refusal = /Failed to load resource: the server responded with a status of (401|429)/.test(text) && message.location().url.endsWith('/graphql');
    if (!refusal) unexpected.push(text);
  });
  page.on('pageerror', (error) => unexpected.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.host !== host) unexpected.push(`request to another host: ${request.url()}`);
  });
  const leftBehind = watchDocumentChanges(page);
  page.on('requestfailed', (request) => {
    const reason = request.failure()?.errorText;
    if (reason === 'net::ERR_ABORTED' && leftBehind(request)) return;
    unexpected.push(`request failed: ${request.url()} ${reason}`);
  });
  return { unexpected: () => unexpected, refusedStatuses: () => refusedStatuses };
}

/**
 * Which requests belonged to a document the test has since left (page.goto, a reload). The
 * browser aborts those when the new document commits: that is the test moving on, not the
 * console failing. An event pushed by the server (a subscription) can start a query at any
 * moment, so waiting for a quiet network before leaving cannot rule this out. Only a
 * cross-document navigation of the main frame counts (it makes a navigation request); the
 * console's own moves between views (history.pushState) do not, so a request the console
 * itself abandons still counts as a problem.
 *
 * The epoch goes up when the navigation's request starts and again when it commits: a
 * request started before that commit and aborted by it is left behind whichever of the
 * abort and the commit the test hears first.
 */
function watchDocumentChanges(page: Page): (request: Request) => boolean {
  let epoch = 0;
  let navigating = false;
  const startedIn = new WeakMap<Request, number>();
  page.on('request', (request) => {
    if (request.isNavigationRequest()) {
      if (request.frame() === page.mainFrame()) [epoch, navigating] = [epoch + 1, true];
      return;
    }
    startedIn.set(request, epoch);
  });
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame() && navigating) [epoch, navigating] = [epoch + 1, false];
  });
  // A navigation that failed never commits: the document stays, and so does the watch on it.
  page.on('requestfailed', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) navigating = false;
  });
  return (request) => !request.isNavigationRequest() && (navigating || (startedIn.get(request) ?? epoch) < epoch);
}

/** Each watched page's requests in flight, and who waits for there to be none. */
const traffic = new WeakMap<Page, { inFlight: number; waiting: (() => void)[] }>();

function trackRequests(page: Page): void {
  const state = { inFlight: 0, waiting: [] as (() => void)[] };
  traffic.set(page, state);
  const done = () => {
    state.inFlight -= 1;
    if (state.inFlight === 0) for (const resolve of state.waiting.splice(0)) resolve();
  };
  page.on('request', () => (state.inFlight += 1));
  page.on('requestfinished', done);
  page.on('requestfailed', done);
}

/**
 * Resolves once the page has no request in flight, after letting it paint twice (a view shown
 * starts its queries in effects, which run after it paints). For checking a view's problems
 * once its queries have ended, and for leaving a page only after its view has loaded (a query
 * a navigation aborts is excused, see watchDocumentChanges, but its answer is never seen). Not
 * `waitForLoadState('networkidle')`: that resolves at once on a page that reached it when it
 * first loaded, and an application moving between views never loads again.
 */
export async function networkSettled(page: Page): Promise<void> {
  const state = traffic.get(page);
  if (!state) throw new Error('networkSettled: the page is not watched (watchForProblems)');
  for (;;) {
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    if (state.inFlight === 0) return;
    await new Promise<void>((resolve) => state.waiting.push(resolve));
  }
}
