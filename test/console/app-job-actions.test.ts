/**
 * Cancelling and retrying an ingestion job from its card in the console (issue 21). The server
 * runs without a job worker, so the job waits QUEUED as long as the test needs: the owner
 * cancels it (asked first, kept once), sees it cancelled, retries it, and once a worker is
 * started sees it complete, with every document in the dataset. Real Chromium, server,
 * PostgreSQL and job queue.
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView } from '../support/console-view.js';
import { createDataset } from '../support/ingestion.js';

describeInBrowser('test/console/app-job-actions', "the console's job actions", () => {
  const suite = consoleSuite({ server: { worker: false } });

  it('cancels a queued job after asking, retries it, and follows it to the end', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const account = await suite.signUp({ tenantName: 'Harbour Works' });
    await createDataset(server, account.accessToken, { name: 'Keepers log', slug: 'keepers-log' });
    const { page, blocked, problems } = await suite.signedIn(account);
    // Leave once the view's queries have answered, so what it read is seen, not aborted.
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/datasets/keepers-log`);
    await page.getByRole('heading', { name: 'Keepers log', level: 1 }).waitFor();
    await page.locator('#ingest-files').setInputFiles([
      { name: 'lamp.md', mimeType: 'text/markdown', buffer: Buffer.from('# Lamp\n\nThe keeper winds the clockwork lamp at dusk.') },
      { name: 'fog.md', mimeType: 'text/markdown', buffer: Buffer.from('# Fog\n\nIn fog the horn sounds twice a minute.') },
    ]);
    const card = page.locator('#jobs > li').first();
    await card.locator('.job-status').filter({ hasText: 'Queued' }).waitFor();

    // Asked first: "Keep it running" changes nothing.
    await card.getByRole('button', { name: 'Cancel job' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Cancel “lamp.md, fog.md”?' }).waitFor();
    await checkView(page, 'job-cancel-confirm');
    await dialog.getByRole('button', { name: 'Keep it running' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await card.getAttribute('data-status')).toBe('QUEUED');

    await card.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job' }).click();
    await card.locator('.job-status').filter({ hasText: 'Cancelled' }).waitFor();
    const jobId = await card.getAttribute('data-job-id');
    expect(await jobStage(jobId!)).toBe('CANCELLED');

    // Retried: queued again, then run to the end once a worker is there.
    await card.getByRole('button', { name: 'Retry failed inputs' }).click();
    await page.locator('#jobs > li').first().locator('.job-status').filter({ hasText: 'Queued' }).waitFor();
    await suite.startLateWorker();
    const done = page.locator('#jobs > li').first();
    await done.locator('.job-status').filter({ hasText: /^Completed$/ }).waitFor({ timeout: 60_000 });
    expect(await done.getByRole('button', { name: /Retry|Cancel/ }).count()).toBe(0);
    await checkView(page, 'job-retried');

    const { body } = await server.graphql('{ dataset(slug: "keepers-log") { documentCount documents(first: 10) { edges { node { title } } } } }', { token: account.accessToken });
    expect(body.data.dataset.documentCount).toBe(2);
    expect(body.data.dataset.documents.edges.map((edge: any) => edge.node.title).sort()).toEqual(['Fog', 'Lamp']);
    expect(await jobStage(jobId!)).toBe('COMPLETED');

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);

    async function jobStage(id: string): Promise<string> {
      const { body } = await server.graphql('query($id: ID!) { ingestionJob(id: $id) { progress { stage } } }', { token: account.accessToken, variables: { id } });
      return body.data.ingestionJob.progress.stage;
    }
  });
});
