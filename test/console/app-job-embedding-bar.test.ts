/**
 * An ingest job's card during its EMBEDDING stage (job-card.tsx): its bytes are all processed
 * by then (the job's percent says 100), so the bar and figures follow "chunks embedded N of M"
 * instead. The dataset embeds with a model whose batch is 2 chunks, over 4 chunks; the model
 * server is held at each batch, so the card is seen at 0 of 4 (bar 0) and 2 of 4 (bar 50),
 * then completed (bar 100). Real Chromium, server, worker and PostgreSQL; the embeddings
 * server is fake-openai (test/support/fake-openai.ts), a test double for a third-party model
 * server speaking the real OpenAI `/v1/embeddings` protocol over HTTP.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, sharedChromium, networkSettled } from '../support/browser.js';
import { consolePage, signInThroughConsole } from '../support/console-view.js';
import { createModel } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { signUp } from '../support/identity.js';
import { createDataset } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skipReason = browserSkipReason('test/console/app-job-embedding-bar');

/** Four short records in one file (one input): a document and a chunk each. */
const RECORDS = ['Lamp', 'Fog', 'Tides', 'Bell'].map((title) => ({ title, text: `${title}: the keeper notes it in the log at dusk.` }));

describe.skipIf(skipReason !== undefined)(skipReason ? `the console's job card while embedding (${skipReason})` : "the console's job card while embedding", () => {
  let server: TestServer;
  let browser: Browser;
  let fake: FakeOpenAI;

  beforeAll(async () => {
    [server, browser, fake] = await Promise.all([startTestServer(), sharedChromium(), startFakeOpenAI()]);
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it("moves an ingest job's bar with the chunks embedded during its EMBEDDING stage", { timeout: 120_000 }, async () => {
    const account = await signUp(server, { tenantName: 'Harbour Works' });
    const model = await createModel(server, account.accessToken, {
      name: 'Harbour vectors',
      type: 'openai-compatible-embeddings',
      config: { baseUrl: fake.baseUrl, model: 'harbour', batchSize: 2 },
    });
    await createDataset(server, account.accessToken, { name: 'Keepers log', slug: 'keepers-log', embeddingModelId: model.id });
    const { context, page, blocked, problems } = await consolePage(browser, server.baseUrl);
    let releaseFirst = () => {};
    let releaseSecond = () => {};
    try {
      await signInThroughConsole(page, server.baseUrl, account);
      await networkSettled(page);
      await page.goto(`${server.baseUrl}/console/datasets/keepers-log`);
      await page.locator('#jobs-empty').waitFor();

      fake.script({ embeddings: { until: new Promise<void>((resolve) => (releaseFirst = resolve)) } });
      const asked = fake.requests.length;
      await page.locator('#ingest-files').setInputFiles({
        name: 'log.jsonl',
        mimeType: 'application/jsonl',
        buffer: Buffer.from(RECORDS.map((record) => JSON.stringify(record)).join('\n')),
      });
      const card = page.locator('#jobs > li').first();
      const figures = card.locator('.job-figures');
      const bar = card.getByRole('progressbar');

      // The first batch is held: every byte processed, no chunk embedded yet.
      await fake.requestsReached(asked + 1);
      await figures.filter({ hasText: / · chunks embedded 0 of 4$/ }).waitFor();
      expect(await card.locator('.job-stage').innerText()).toBe('embedding');
      expect(await figures.innerText()).toMatch(/^embedding · 100 % · documents 1 of 1 · chunks 4 · /);
      expect(await bar.getAttribute('aria-valuenow')).toBe('0');

      // The first batch answered, the second held: half the chunks embedded, half the bar.
      fake.script({ embeddings: { until: new Promise<void>((resolve) => (releaseSecond = resolve)) } });
      releaseFirst();
      await fake.requestsReached(asked + 2);
      await figures.filter({ hasText: / · chunks embedded 2 of 4$/ }).waitFor();
      expect(await bar.getAttribute('aria-valuenow')).toBe('50');
      expect(await bar.getAttribute('aria-valuetext')).toBe('50 %');

      releaseSecond();
      await page.locator('#jobs > li[data-status="COMPLETED"]').waitFor({ timeout: 60_000 });
      expect(await bar.getAttribute('aria-valuenow')).toBe('100');
      expect(fake.requests.slice(asked).map((request) => request.body.input.length)).toEqual([2, 2]);

      fake.script({});
      await networkSettled(page);
      expect(blocked).toEqual([]);
      expect(problems.unexpected()).toEqual([]);
    } finally {
      releaseFirst();
      releaseSecond();
      await context.close();
    }
  });
});
