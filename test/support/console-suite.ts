/**
 * One setup for the console's browser tests (test/console/app*.test.ts): the real server,
 * Chromium, fake model servers if asked, and per test the tenants signed up through the API and
 * the pages opened in their own browser contexts, all closed afterwards. Called inside a
 * describe block, it registers the hooks and returns accessors, in the usual vitest shape:
 *
 *   describeInBrowser('test/console/app-x', "the console's x", () => {
 *     const suite = consoleSuite({ fakeOpenAIs: 1 });
 *     it('…', async () => {
 *       const owner = await suite.signUp({ tenantName: 'Harbour Works' });
 *       const { page, blocked, problems } = await suite.signedIn(owner);
 *       …
 *     });
 *   });
 */
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import type { SluiceWorker } from '../../src/server/job-worker.js';
import { browserSkipReason, sharedChromium } from './browser.js';
import { consolePage, openDatasetPage, SHOTS, signInThroughConsole } from './console-view.js';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.js';
import { signUp, type SignedUp } from './identity.js';
import { createDataset } from './ingestion.js';
import { startLateWorker, startTestServer, type TestServer } from './server.js';

/** A describe block that runs in Chromium, or is skipped saying why (browserSkipReason). */
export function describeInBrowser(file: string, title: string, body: () => void): void {
  const skipReason = browserSkipReason(file);
  describe.skipIf(skipReason !== undefined)(skipReason ? `${title} (${skipReason})` : title, body);
}

export interface ConsoleSuiteOptions {
  /** startTestServer's options (env, worker: false, …). @default {} */
  server?: Parameters<typeof startTestServer>[0];
  /** How many fake OpenAI model servers (fake-openai.ts) to start, each scriptable alone. @default 0 */
  fakeOpenAIs?: number;
}

/** A page on the test server in a browser context of its own, and what it reports (consolePage). */
export type ConsoleTab = Awaited<ReturnType<typeof consolePage>>;

export interface TabOptions {
  viewport?: { width: number; height: number };
  /** Browser permissions for the page's context, e.g. clipboard-read. */
  permissions?: string[];
}

export interface ConsoleSuite {
  readonly server: TestServer;
  readonly browser: Browser;
  /** The first fake model server (fakeOpenAIs ≥ 1). */
  readonly fake: FakeOpenAI;
  /** Every fake model server, in order. */
  readonly fakes: readonly FakeOpenAI[];
  /** A new tenant and its owner, signed up through the API; its accessToken arranges data (endpoints.ts `must`). */
  signUp(options?: Parameters<typeof signUp>[1]): Promise<SignedUp>;
  /** A page not signed in yet; its context is closed after the test. */
  openPage(options?: TabOptions): Promise<ConsoleTab>;
  /** A page signed in as `account` through the sign-in view, showing the datasets view. */
  signedIn(account: { email: string; password: string }, options?: TabOptions): Promise<ConsoleTab>;
  /**
   * A new tenant (`tenantName`) with one empty dataset created through the API, and its owner's
   * page signed in and showing that dataset (openDatasetPage).
   */
  datasetPage(tenantName: string, dataset: { name: string; slug: string }, options?: TabOptions): Promise<ConsoleTab & { account: SignedUp; dataset: { id: string; slug: string } }>;
  /** A job worker for a server started with `worker: false`, stopped before the server closes. */
  startLateWorker(): Promise<SluiceWorker>;
}

export function consoleSuite(options: ConsoleSuiteOptions = {}): ConsoleSuite {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  const fakes: FakeOpenAI[] = [];
  const workers: SluiceWorker[] = [];
  /** The contexts the running test opened: closed when it ends, passed or failed. */
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // Each kept as soon as it is up, and every start awaited: if one fails, afterAll closes the others.
    const starts = await Promise.allSettled([
      startTestServer(options.server).then((started) => (server = started)),
      sharedChromium().then((started) => (browser = started)),
      ...Array.from({ length: options.fakeOpenAIs ?? 0 }, () => startFakeOpenAI().then((started) => fakes.push(started))),
    ]);
    const failed = starts.find((start) => start.status === 'rejected');
    if (failed) throw failed.reason;
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    // Workers first: they use the server's database and event bus.
    await Promise.all(workers.map((worker) => worker.stop()));
    await server?.close();
    await Promise.all(fakes.map((fake) => fake.close()));
  });

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`consoleSuite: ${what} is not started (read it inside a test, after beforeAll)`);
    return value;
  };

  const suite: ConsoleSuite = {
    get server() {
      return started(server, 'the server');
    },
    get browser() {
      return started(browser, 'Chromium');
    },
    get fake() {
      return started(fakes[0], 'a fake model server (fakeOpenAIs)');
    },
    get fakes() {
      return fakes;
    },
    signUp(account = {}) {
      return signUp(suite.server, account);
    },
    async openPage({ viewport, permissions } = {}) {
      const tab = await consolePage(suite.browser, suite.server.baseUrl, viewport);
      contexts.push(tab.context);
      if (permissions) await tab.context.grantPermissions(permissions);
      return tab;
    },
    async signedIn(account, tabOptions) {
      const tab = await suite.openPage(tabOptions);
      await signInThroughConsole(tab.page, suite.server.baseUrl, account);
      return tab;
    },
    async datasetPage(tenantName, input, tabOptions) {
      const account = await suite.signUp({ tenantName });
      const dataset = await createDataset(suite.server, account.accessToken, input);
      const tab = await suite.signedIn(account, tabOptions);
      await openDatasetPage(tab.page, suite.server.baseUrl, input);
      return { ...tab, account, dataset };
    },
    async startLateWorker() {
      const worker = await startLateWorker(suite.server);
      workers.push(worker);
      return worker;
    },
  };
  return suite;
}
