/**
 * The console's usage and audit views in a real headless Chromium against the real server,
 * worker and PostgreSQL, with every request to another host refused. Through the API: two
 * endpoints (one on a priced model, with a rate limit of 2 a day) asked by the owner and by an
 * API key, the third ask refused. Then in the browser: the usage charts with that data (read
 * from the table beside each chart, compared with the API's own totals), split by endpoint and
 * by caller; the audit trail filtered by action, the live tail (graphql-ws to the page's own
 * origin) receiving an event written after it started, chain verification and its result; the
 * GraphiQL link shown where the server serves GraphiQL and absent where it does not.
 *
 * Every view is checked with axe-core: no serious or critical violation. Any console error,
 * page error, CSP violation (Chart.js draws on a canvas under the strict policy) or request to
 * another host fails the test. Screenshots: test-results/console-usage*.png, console-audit*.png.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { checkView as view, expectNoSidewaysScroll, signInThroughConsole } from '../support/console-view.js';
import { networkSettled } from '../support/browser.js';
import { endpointOver, must, uniqueSlug } from '../support/endpoints.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createApiKey } from '../support/identity.js';
import { createPolicy, outcome } from '../support/policies.js';
import { startTestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];

describeInBrowser('test/console/app-usage', 'the console’s usage and audit views', () => {
  const suite = consoleSuite();

  it('shows usage charts with the queries and the refusal, filters the audit trail, tails it live and verifies its chain', { timeout: 180_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Canal Office' });
    const token = owner.accessToken;
    const priced = { name: uniqueSlug('priced'), type: 'extractive', promptMicrosPer1k: 1_000_000, completionMicrosPer1k: 2_000_000 };
    const gates = await endpointOver(server, token, DOCS, { model: priced, published: true });
    const locks = await endpointOver(server, token, DOCS, { published: true });
    await createPolicy(server, token, gates.endpointId, 'rate_limit', { requestsPerPeriod: 2, periodSeconds: 86_400, scope: 'per_user' });
    const key = (await createApiKey(server, token, { name: 'reader', scopes: ['READ'] })).body.data.createApiKey;
    expect((await outcome(server, token, gates.reference)).code).toBe('ok');
    expect((await outcome(server, token, gates.reference)).code).toBe('ok');
    expect((await outcome(server, token, gates.reference)).code).toBe('RATE_LIMITED');
    expect((await outcome(server, token, locks.reference)).code).toBe('ok');
    expect((await outcome(server, key.secret, locks.reference)).code).toBe('ok');
    const gatesSlug = gates.reference.split('/')[1]!;
    const locksSlug = locks.reference.split('/')[1]!;
    const totals = Object.fromEntries(
      (await must(server, token, '{ usage(groupBy: ENDPOINT) { key queries denials totalTokens costMicros } }')).usage.map((row: { key: string }) => [row.key, row]),
    );
    expect(totals[gatesSlug]).toMatchObject({ queries: 2, denials: 1 });
    expect(totals[gatesSlug].costMicros).toBeGreaterThan(0);

    const { page, blocked, problems } = await suite.signedIn(owner);

    // The GraphiQL link: this server serves GraphiQL (not production), so it is there.
    expect(await page.getByRole('link', { name: 'GraphiQL' }).getAttribute('href')).toBe('/graphql');

    // Usage, split by endpoint: the tables beside the charts hold the queries and the refusal.
    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
    const queries = await usageTable(page, 'queries');
    expect(queries).toEqual([{ [gatesSlug]: '2', [locksSlug]: '2', Total: '4' }]);
    expect(await usageTable(page, 'refusals')).toEqual([{ [gatesSlug]: '1', [locksSlug]: '0', Total: '1' }]);
    const tokens = (await usageTable(page, 'tokens'))[0]!;
    expect(Number(tokens[gatesSlug])).toBe(totals[gatesSlug].totalTokens);
    expect(Number(tokens[locksSlug])).toBe(totals[locksSlug].totalTokens);
    const cost = (await usageTable(page, 'cost'))[0]!;
    expect(cost[gatesSlug]).toBe((totals[gatesSlug].costMicros / 1_000_000).toFixed(4));
    expect(cost[locksSlug]).toBe('0.0000');
    // Each chart drew (a canvas with pixels), labelled for screen readers.
    for (const metric of ['queries', 'tokens', 'cost', 'refusals']) {
      const canvas = page.locator(`#usage-${metric} canvas`);
      expect(await canvas.getAttribute('role')).toBe('img');
      expect(await canvas.evaluate((element) => (element as HTMLCanvasElement).width)).toBeGreaterThan(0);
    }
    await view(page, 'usage');

    // Split by caller: the owner and the API key, each with their own queries.
    await page.getByLabel('Split by').selectOption('CALLER');
    // The session holds the user's global id; a caller key names the database id inside it.
    const globalId = await page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.app') ?? '{}').user.id as string);
    const owners = databaseIdOf(globalId);
    await page.locator(`#usage-queries th[data-key="user:${owners}"]`).waitFor();
    const byCaller = await usageTable(page, 'queries');
    const keyCaller = Object.keys(byCaller[0]!).find((column) => column.startsWith('apiKey:'))!;
    expect(byCaller).toEqual([{ [`user:${owners}`]: '3', [keyCaller]: '1', Total: '4' }]);
    expect(await usageTable(page, 'refusals')).toEqual([{ [`user:${owners}`]: '1', [keyCaller]: '0', Total: '1' }]);
    // Callers by name: the member's email, the API key's name and shown prefix.
    await expect.poll(() => page.locator(`#usage-queries th[data-key="user:${owners}"]`).innerText()).toBe(owner.email);
    expect(await page.locator(`#usage-queries th[data-key="${keyCaller}"]`).innerText()).toBe(`reader (${key.apiKey.prefix}…)`);
    await view(page, 'usage-by-caller');

    // A narrow screen: charts and tables fit, nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 900 });
    await page.locator('#usage-queries canvas').waitFor();
    await expectNoSidewaysScroll(page);
    await view(page, 'usage-narrow');
    await page.setViewportSize({ width: 1200, height: 900 });

    // The audit trail, filtered by action: configuration changes only, then the one refusal.
    await networkSettled(page);
    await page.goto(`${server.baseUrl}/console/audit`);
    await page.locator('#audit-table tbody tr').first().waitFor();
    await page.getByLabel('Action').fill('config.*');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    // The unfiltered page may already hold config events: wait until only they are left.
    const onlyConfig = async () => {
      const shown = await actions(page);
      return shown.length > 0 && shown.every((action) => action.startsWith('config.'));
    };
    await expect.poll(onlyConfig).toBe(true);
    expect(await actions(page)).toEqual(expect.arrayContaining(['config.policy.create', 'config.model.create', 'config.endpoint.create', 'config.apiKey.create']));
    await page.getByLabel('Action').fill('policy.denied');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => actions(page)).toEqual(['policy.denied']);

    // The live tail: on, filtered to mutations; a mutation made afterwards appears, marked new.
    await page.getByLabel('Action').fill('graphql.mutation');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator('#audit-table tbody tr, #audit-empty').first().waitFor();
    await page.getByLabel('Live tail').check();
    await page.getByRole('status').filter({ hasText: 'Live: new events appear' }).waitFor();
    // The subscription has started once its own start is in the trail (it is audited too),
    // and it carries the view's filter: the server, not the page, selects the events.
    const tailing = (action: string) => (event: { details?: any }) =>
      event.details?.operationName === 'AuditEventsLive' && event.details.fields?.[0]?.arguments?.filter?.action === action;
    await auditEventsOf(server, token, 1, { action: 'graphql.subscription' }, 15_000, tailing('graphql.mutation'));
    await must(server, token, 'mutation LiveProbe($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Tail probe', slug: uniqueSlug('probe') } });
    const probe = page.locator('#audit-table tbody tr').filter({ hasText: 'new' }).first();
    await probe.waitFor({ timeout: 15_000 });
    expect(await probe.getAttribute('data-action')).toBe('graphql.mutation');
    expect(await probe.locator('pre').textContent()).toContain('LiveProbe');
    // Only what the filter selects: the console's own queries were not sent.
    expect((await actions(page)).every((action) => action === 'graphql.mutation')).toBe(true);

    // A new filter while live subscribes again with it: a key made afterwards arrives, its mutation does not.
    await page.getByLabel('Action').fill('config.apiKey.*');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await auditEventsOf(server, token, 1, { action: 'graphql.subscription' }, 15_000, tailing('config.apiKey.*'));
    await expect.poll(async () => (await actions(page)).every((action) => action.startsWith('config.apiKey.'))).toBe(true);
    const tailKey = await must(server, token, 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { name } } }', { i: { name: 'tail-probe-key', scopes: ['READ'] } });
    expect(tailKey.createApiKey.apiKey.name).toBe('tail-probe-key');
    const keyRow = page.locator('#audit-table tbody tr[data-action="config.apiKey.create"]').filter({ hasText: 'new' }).first();
    await keyRow.waitFor({ timeout: 15_000 });
    expect(await keyRow.locator('pre').textContent()).toContain('tail-probe-key');
    expect((await actions(page)).every((action) => action.startsWith('config.apiKey.'))).toBe(true);

    // Chain verification on demand: intact, with the number of events it checked.
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    const verdict = page.locator('#audit-verification [data-ok]');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    expect(Number(await verdict.locator('[data-field="checked"]').innerText())).toBeGreaterThan(10);
    await view(page, 'audit');
    await page.getByLabel('Live tail').uncheck();

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);

    // Where the server does not serve GraphiQL (production's default), the console shows no link to it.
    const plain = await startTestServer({ database: server.database, worker: false, env: { SLUICE_GRAPHIQL: 'false' } });
    try {
      expect(await (await fetch(`${plain.baseUrl}/console/`)).text()).not.toContain('sluice-graphiql');
      expect(await (await fetch(`${server.baseUrl}/console/`)).text()).toContain('<meta name="sluice-graphiql" content="/graphql">');
      const other = await suite.browser.newContext({ viewport: { width: 1200, height: 900 } });
      const otherPage = await other.newPage();
      await signInThroughConsole(otherPage, plain.baseUrl, owner);
      await otherPage.getByRole('link', { name: 'Audit', exact: true }).waitFor();
      expect(await otherPage.getByRole('link', { name: 'GraphiQL' }).count()).toBe(0);
      await other.close();
    } finally {
      await plain.close();
    }
  });
});

/** A usage chart's table: one object per row (column header → cell), the time column left out. */
async function usageTable(page: Page, metric: string): Promise<Record<string, string>[]> {
  const table = page.locator(`#usage-${metric} table`);
  await table.waitFor();
  return table.evaluate((element) => {
    const headers = [...element.querySelectorAll('thead th')].map((th) => th.getAttribute('data-key') ?? th.textContent ?? '');
    return [...element.querySelectorAll('tbody tr')].map((row) => {
      const cells = [...row.children].map((cell) => cell.textContent ?? '');
      return Object.fromEntries(headers.slice(1).map((header, index) => [header, cells[index + 1]!]));
    });
  });
}

async function actions(page: Page): Promise<string[]> {
  return page.locator('#audit-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-action') ?? ''));
}
