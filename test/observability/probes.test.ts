/**
 * The probes and the scrape. Every `/readyz` used to run its own database query (a flood from
 * one address cost the pool one statement per call: it answers before any rate limit, as a
 * probe must), and `/metrics`, `/readyz` and `/healthz` answered 200 to any method: a PUT,
 * DELETE or TRACE to `/metrics` got the full metrics. Now one readiness answer is shared by
 * every caller for a second, and the three paths answer GET and HEAD only (405 otherwise).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scrape, value } from '../support/metrics.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(() => server?.close());

it('a flood of /readyz shares one readiness query a second', async () => {
  const before = value(await scrape(server), 'sluice_db_statements_total');
  const started = Date.now();
  const statuses = await Promise.all(Array.from({ length: 200 }, async () => (await fetch(`${server.baseUrl}/readyz`)).status));
  // Read before the scrape: the bound is one query per second the flood lasted (plus the one a
  // second boundary adds), so a busy machine that stretches the flood does not fail it.
  const seconds = Math.ceil((Date.now() - started) / 1000);
  expect(new Set(statuses)).toEqual(new Set([200]));
  const statements = value(await scrape(server), 'sluice_db_statements_total') - before;
  // 200 before the fix; one query a second however many ask.
  expect(statements).toBeLessThanOrEqual(seconds + 1);
  expect(statements).toBeLessThan(200);
});

it('the probes and the scrape answer GET and HEAD only: 405 with Allow otherwise', async () => {
  for (const path of ['/metrics', '/readyz', '/healthz']) {
    for (const method of ['GET', 'HEAD']) expect([path, method, (await fetch(`${server.baseUrl}${path}`, { method })).status]).toEqual([path, method, 200]);
    for (const method of ['PUT', 'DELETE', 'POST', 'PATCH', 'OPTIONS']) {
      const response = await fetch(`${server.baseUrl}${path}`, { method, body: method === 'PUT' || method === 'POST' || method === 'PATCH' ? 'x' : undefined });
      const text = await response.text();
      expect([path, method, response.status, response.headers.get('allow')]).toEqual([path, method, 405, 'GET, HEAD']);
      expect(text).not.toContain('sluice_');
    }
  }
});

it('the probes answer their exact path only: a URL that merely ends in one gets its own answer', async () => {
  // Yoga's checks matched any URL ending in /healthz or /readyz, query string included: this
  // GraphQL GET got the probe's empty 200 instead of its data, and so did `/v1/x/readyz`.
  for (const probe of ['/healthz', '/readyz']) {
    const graphql = await fetch(`${server.baseUrl}/graphql?query=${encodeURIComponent('{ __typename }')}&next=${probe}`, { headers: { accept: 'application/json', 'x-sluice-csrf': '1' } });
    expect([probe, graphql.status, await graphql.json()]).toEqual([probe, 200, { data: { __typename: 'Query' } }]);
    const posted = await fetch(`${server.baseUrl}/graphql?x=${probe}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect([probe, posted.status, await posted.json()]).toEqual([probe, 200, { data: { __typename: 'Query' } }]);
    // Another path that ends like a probe is no probe: not found, and no 405 for its method.
    for (const method of ['GET', 'PUT']) {
      const elsewhere = await fetch(`${server.baseUrl}/v1/x${probe}`, { method, body: method === 'PUT' ? 'x' : undefined });
      await elsewhere.arrayBuffer();
      expect([probe, method, elsewhere.status]).toEqual([probe, method, 404]);
    }
    // The probe itself, with a query string, is still the probe.
    const withQuery = await fetch(`${server.baseUrl}${probe}?from=balancer`);
    expect([probe, withQuery.status, await withQuery.text()]).toEqual([probe, 200, '']);
  }
});
