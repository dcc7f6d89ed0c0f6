/**
 * Within the views, the console offers an action only to a caller who may run it: the
 * permission of the mutation it sends (src/console/app/may.ts, `mayRun`), as the caller's
 * `viewer.permissions` say. Until 2026-12-07 the Datasets, a dataset's page, Models and Endpoints
 * offered every action to everyone: a VIEWER saw "New dataset", "Delete dataset", the settings
 * and ingestion forms, "Test connection", "Delete", "Publish"…, and a MEMBER the model and
 * endpoint management, each refused FORBIDDEN when used.
 *
 * In a real headless Chromium against the real server and worker: a tenant with a model, a
 * dataset with a document and a job that ended with a failed input (so its card offers a
 * retry), and a published endpoint. A VIEWER reads every view with no control but the searches;
 * a MEMBER (DATA_WRITE) gets the data views' controls, the same as an ADMIN's, and none on Models
 * and Endpoints; an ADMIN gets them all. No GraphQL answer on any page carries an error.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { openDatasetPage, refusedFields } from '../support/console-view.js';
import { createModel, must } from '../support/endpoints.js';
import { addMember } from '../support/identity.js';
import { createDataset, ingestFiles, settled } from '../support/ingestion.js';

/** What the shown view offers to act with: its buttons (by accessible name), forms and file inputs, sorted. */
function controls(page: Page): Promise<string[]> {
  return page.locator('#content').evaluate((main) =>
    [
      ...[...main.querySelectorAll('button')].map((button) => `button: ${(button.getAttribute('aria-label') ?? button.textContent ?? '').trim()}`),
      ...[...main.querySelectorAll('form[id]')].map((form) => `form: ${form.id}`),
      ...[...main.querySelectorAll('input[type="file"]')].map((input) => `file: ${input.id}`),
    ].sort(),
  );
}

type Views = Record<'datasets' | 'dataset' | 'models' | 'endpoints', string[]>;

describeInBrowser('test/console/app-permissions-actions', 'the console offers only the actions the caller may run', () => {
  const suite = consoleSuite();

  it('a VIEWER reads without controls, a MEMBER writes data only, an ADMIN manages everything', { timeout: 240_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Canal Wardens' });
    const token = owner.accessToken;
    const model = await createModel(server, token, { name: 'Built-in', type: 'extractive' });
    const dataset = { name: 'Towpath notes', ...(await createDataset(server, token, { name: 'Towpath notes' })) };
    const ingest = await ingestFiles(server, token, dataset.id, [
      { name: 'bollards.txt', content: 'Boats tie up to the iron bollards along the towpath.' },
      // JSON cut short: fails to parse, so the job ends with a failed input to retry.
      { name: 'locks.json', type: 'application/json', content: '{"title": "Locks", "text": "The lower' },
    ]);
    expect(ingest.body.errors).toBeUndefined();
    const ended = await settled(server, token, ingest.body.data.ingestDocuments.id);
    expect([ended.stage, ended.progress.documentsFailed]).toEqual(['COMPLETED', 1]);
    await must(server, token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }', {
      input: { name: 'Towpath answers', slug: 'towpath', datasetIds: [dataset.id], modelId: model.id, published: true },
    });
    const members = {
      VIEWER: await addMember(server, token, 'VIEWER'),
      MEMBER: await addMember(server, token, 'MEMBER'),
      ADMIN: await addMember(server, token, 'ADMIN'),
    };

    /** The controls of each view, as `account` sees them; no answer of the API refused anything. */
    const seenBy = async (account: { email: string; password: string }): Promise<Views> => {
      const { page, blocked, problems } = await suite.openPage();
      const refused = refusedFields(page);
      await page.goto(`${server.baseUrl}/console/sign-in`);
      await page.getByLabel('Email').fill(account.email);
      await page.getByLabel('Password').fill(account.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator(`#datasets-table tr[data-slug="${dataset.slug}"]`).waitFor();
      await networkSettled(page);
      const datasets = await controls(page);

      await openDatasetPage(page, server.baseUrl, dataset);
      await page.locator('#documents-table tr[data-source-key="bollards.txt"]').waitFor();
      await page.locator('.job-card[data-status="COMPLETED_WITH_FAILURES"]').waitFor();
      await page.locator('#dataset-embedding [data-field="model"]').filter({ hasText: 'none' }).waitFor();
      await networkSettled(page);
      const datasetPage = await controls(page);

      await page.getByRole('link', { name: 'Models', exact: true }).click();
      await page.locator('#models-table tr[data-name="Built-in"]').waitFor();
      await networkSettled(page);
      const models = await controls(page);

      await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
      await page.locator('#endpoints-table tr[data-slug="towpath"]').waitFor();
      await networkSettled(page);
      const endpoints = await controls(page);

      expect(await refused()).toEqual([]);
      expect(blocked).toEqual([]);
      expect(problems.unexpected()).toEqual([]);
      return { datasets, dataset: datasetPage, models, endpoints };
    };

    const viewer = await seenBy(members.VIEWER);
    const member = await seenBy(members.MEMBER);
    const admin = await seenBy(members.ADMIN);

    // A VIEWER: the searches, nothing that changes anything.
    expect(viewer).toEqual({ datasets: [], dataset: ['button: Search'], models: [], endpoints: [] });

    // An ADMIN: every action of each view.
    expect(admin.datasets).toEqual(['button: Create dataset', 'form: create-dataset-form']);
    expect(admin.dataset).toEqual(
      expect.arrayContaining([
        'button: Delete dataset',
        'button: Delete bollards.txt',
        'button: Re-ingest bollards.txt from a file',
        'button: Retry failed inputs',
        'button: Choose files',
        'button: Choose a folder',
        'button: Save settings',
        'button: Change embeddings model',
        'form: dataset-settings-form',
        'form: dataset-embedding-form',
        'file: ingest-files',
        'file: ingest-folder',
        'file: reingest-file',
      ]),
    );
    expect(admin.models).toEqual(expect.arrayContaining(['button: Test connection of Built-in', 'button: Edit Built-in', 'button: Delete Built-in', 'form: create-model-form']));
    expect(admin.endpoints).toEqual(
      expect.arrayContaining(['button: Unpublish', 'button: List in catalog', 'button: Edit', 'button: Retrieval settings', 'button: Delete', 'form: create-endpoint-form']),
    );

    // A MEMBER writes data as an ADMIN does, and manages no model or endpoint.
    expect(member).toEqual({ datasets: admin.datasets, dataset: admin.dataset, models: [], endpoints: [] });
  });
});
