/**
 * Lists longer than 100 in the console (issue 21): 120 datasets, made through GraphQL, read
 * in the browser 50 at a time with "Load more" (the connection's pageInfo and cursor), every
 * one shown once and the button gone at the end; the new-endpoint form then offers all of them.
 * 120 open invitations in the members view, 100 then "Load more invitations"; 150 endpoints
 * all suggested by the playground. Real Chromium, server and PostgreSQL.
 */
import { expect, it } from 'vitest';
import { networkSettled } from '../support/browser.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { createModel, must, uniqueSlug } from '../support/endpoints.js';
import { createDataset } from '../support/ingestion.js';
import { type TestServer } from '../support/server.js';

const COUNT = 120;
/** The server's default alias limit (SLUICE_MAX_ALIASES) is 15: that many creations per request. */
const PER_REQUEST = 15;

/** Runs `field(index)` for each of `count` indexes, PER_REQUEST aliased fields a request; the results in order. */
async function createMany(server: TestServer, token: string, count: number, field: (index: number) => string): Promise<any[]> {
  const results: any[] = [];
  for (let start = 0; start < count; start += PER_REQUEST) {
    const indexes = Array.from({ length: Math.min(PER_REQUEST, count - start) }, (_, offset) => start + offset);
    const data = await must(server, token, `mutation { ${indexes.map((index) => `f${index}: ${field(index)}`).join('\n')} }`);
    results.push(...indexes.map((index) => data[`f${index}`]));
  }
  return results;
}

describeInBrowser('test/console/app-lists', "the console's long lists", () => {
  const suite = consoleSuite();

  it(`shows all ${COUNT} datasets with Load more, each once, and offers each for a new endpoint`, { timeout: 120_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Long Shelf' });
    const names = Array.from({ length: COUNT }, (_, index) => `Shelf ${String(index + 1).padStart(3, '0')}`);
    await createMany(server, owner.accessToken, COUNT, (index) => `createDataset(input: { name: "${names[index]}", slug: "${names[index]!.toLowerCase().replace(' ', '-')}" }) { id }`);

    const { page, blocked, problems } = await suite.signedIn(owner);
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
  });
  it('shows all 120 open invitations in the members view: 100, then Load more invitations', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Crowded Quay' });
    const emails = Array.from({ length: COUNT }, (_, index) => `guest-${String(index + 1).padStart(3, '0')}-${uniqueSlug('q')}@example.test`);
    await createMany(server, owner.accessToken, COUNT, (index) => `inviteMember(email: "${emails[index]}", role: VIEWER) { invitation { id } }`);

    const { page, blocked, problems } = await suite.signedIn(owner);
    await networkSettled(page);
    await page.getByRole('link', { name: 'Members', exact: true }).click();
    const rows = page.locator('#invitations-table tbody tr');
    await rows.nth(99).waitFor();
    expect(await rows.count()).toBe(100);
    const more = page.getByRole('button', { name: 'Load more invitations' });
    await more.click();
    await rows.nth(COUNT - 1).waitFor();
    await more.waitFor({ state: 'detached' });
    const shown = await rows.locator('td:first-child').allInnerTexts();
    expect(shown).toHaveLength(COUNT);
    expect([...shown].sort()).toEqual([...emails].sort());

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });

  it('suggests every one of 150 endpoints in the playground, the 150th too', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Many Doors' });
    const dataset = await createDataset(server, owner.accessToken, { name: 'Doors' });
    const model = await createModel(server, owner.accessToken, { name: uniqueSlug('extractive'), type: 'extractive' });
    const total = 150;
    const created = await createMany(
      server,
      owner.accessToken,
      total,
      (index) => `createEndpoint(input: { name: "Door ${index + 1}", slug: "door-${String(index + 1).padStart(3, '0')}", datasetIds: ["${dataset.id}"], modelId: "${model.id}" }) { reference }`,
    );
    const references: string[] = created.map((endpoint) => endpoint.reference);

    const { page, blocked, problems } = await suite.signedIn(owner);
    await networkSettled(page);
    await page.getByRole('link', { name: 'Playground', exact: true }).click();
    const options = page.locator('#own-endpoints option');
    await page.locator(`#own-endpoints option[value="${references[total - 1]}"]`).waitFor({ state: 'attached' });
    const suggested = await options.evaluateAll((nodes) => nodes.map((node) => (node as HTMLOptionElement).value));
    expect(suggested).toHaveLength(total);
    expect([...suggested].sort()).toEqual([...references].sort());

    await networkSettled(page);
    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
