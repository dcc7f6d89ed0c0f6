/**
 * Prometheus metrics at /metrics over the real server: counters and the latency histogram move
 * with requests, errors are counted by code, live subscriptions are gauged, the ingestion queue
 * is read from graphile-worker's tables, and access follows SLUICE_METRICS_TOKEN.
 * Also: with tracing off, log lines carry no trace id.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestInline, tenantWithOwner } from '../support/ingestion.js';
import { seedTenant } from '../support/seed.js';
import { scrape as scrapeOf, value } from '../support/metrics.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

const METRICS_TOKEN = 'scrape-token-0123456789';
let server: TestServer;
let guarded: TestServer;
let production: TestServer;

beforeAll(async () => {
  [server, guarded, production] = await Promise.all([
    // No worker: ingestion jobs stay in the queue for the queue-depth metric.
    startTestServer({ worker: false }),
    startTestServer({ env: { SLUICE_METRICS_TOKEN: METRICS_TOKEN } }),
    startTestServer({ env: { NODE_ENV: 'production', SLUICE_DATABASE_SSL: 'disable' } }),
  ]);
});
afterAll(() => Promise.all([server?.close(), guarded?.close(), production?.close()]));

const scrape = (target: TestServer = server) => scrapeOf(target);

describe('/metrics', () => {
  it('reads the ingestion queue on scrape', async () => {
    // First scrape of this server: the queue reading is cached for 5 s after it.
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, [{ title: 'One', text: 'Some text to index.' }]);
    expect(body.errors).toBeUndefined();
    const samples = await scrape();
    expect(value(samples, 'sluice_ingestion_queue_jobs{state="waiting"}')).toBe(1);
    expect(value(samples, 'sluice_ingestion_queue_jobs{state="running"}')).toBe(0);
    expect(samples.has('process_resident_memory_bytes')).toBe(true);
  });

  it('counts operations by type and outcome, errors by code, and times them', async () => {
    const tenant = await seedTenant(server.database.ownerUrl);
    const token = await server.tokenFor(tenant, tenant.users[0]!);
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect((await server.graphql('{ viewer { kind } }', { token })).body.errors).toBeUndefined();
    expect((await server.graphql('{ viewer { kind } }', { token: 'not-a-token' })).status).toBe(401);
    expect((await server.graphql('{ viewer { noSuchField } }')).status).toBe(400);
    expect((await server.graphql('{ viewer { kind ')).status).toBe(400);
    const after = await scrape();
    const moved = (key: string) => value(after, key) - value(before, key);
    expect({
      queriesOk: moved('sluice_graphql_operations_total{operation_type="query",outcome="ok"}'),
      queriesFailed: moved('sluice_graphql_operations_total{operation_type="query",outcome="error"}'),
      unparsable: moved('sluice_graphql_operations_total{operation_type="unknown",outcome="error"}'),
      unauthenticated: moved('sluice_graphql_errors_total{code="UNAUTHENTICATED"}'),
      badInput: moved('sluice_graphql_errors_total{code="BAD_USER_INPUT"}'),
      parseFailed: moved('sluice_graphql_errors_total{code="GRAPHQL_PARSE_FAILED"}'),
      timed: moved('sluice_graphql_operation_duration_seconds_count{operation_type="query"}'),
    }).toEqual({ queriesOk: 3, queriesFailed: 2, unparsable: 1, unauthenticated: 1, badInput: 1, parseFailed: 1, timed: 3 });
    expect(moved('sluice_graphql_operation_duration_seconds_sum{operation_type="query"}')).toBeGreaterThan(0);
  });

  it('counts SQL statements: the same number for a page of 1 dataset and of 5, each with its documents', async () => {
    const { token } = await tenantWithOwner(server);
    const PAGE = '{ datasets(first: 10) { edges { node { name documentCount documents(first: 10) { edges { node { title } } } } } } }';
    // The audit writer's batched inserts (of earlier requests) may land in the window: they
    // only add, so the least of five is the request's own count (three were not always enough on a busy machine).
    const statementsOf = async (query: string) => {
      const counts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const before = value(await scrape(), 'sluice_db_statements_total');
        const { body } = await server.graphql(query, { token });
        expect(body.errors).toBeUndefined();
        counts.push(value(await scrape(), 'sluice_db_statements_total') - before);
      }
      return Math.min(...counts);
    };
    await createDataset(server, token);
    const one = await statementsOf(PAGE);
    for (let i = 0; i < 4; i++) await createDataset(server, token);
    const five = await statementsOf(PAGE);
    const viewer = await statementsOf('{ viewer { kind } }');
    expect({ one, five }).toEqual({ one, five: one });
    // The request's own: the membership check, BEGIN, the tenant settings, COMMIT; a page adds
    // one statement for the datasets and one for all their documents.
    expect(viewer).toBe(4);
    expect(one).toBe(viewer + 2);
  });

  it('gauges live subscriptions while they stream', async () => {
    const tenant = await seedTenant(server.database.ownerUrl);
    const token = await server.tokenFor(tenant, tenant.users[0]!);
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    const live = 'sluice_graphql_active_subscriptions{transport="ws"}';
    try {
      const events = client.iterate({ query: 'subscription { heartbeat(intervalSeconds: 30, count: 2) { sequence } }' });
      expect((await events.next()).value?.data).toEqual({ heartbeat: { sequence: 1 } });
      expect(value(await scrape(), live)).toBe(1);
      await events.return?.();
      await pollUntil(async () => value(await scrape(), live), (n) => n === 0, { timeoutMs: 5_000, intervalMs: 25, failure: (n) => `${live} stayed ${n} after the subscription ended` });
    } finally {
      await client.dispose();
    }
  });

  it('asks for the token when one is set, and is not served in production without one', async () => {
    const without = await fetch(`${guarded.baseUrl}/metrics`);
    expect([without.status, without.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    const wrong = await fetch(`${guarded.baseUrl}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123456780' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${guarded.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('sluice_graphql_operations_total');
    expect((await fetch(`${production.baseUrl}/metrics`)).status).toBe(404);
  });
});

describe('tracing off', () => {
  it('puts no trace id in the log lines of an operation', async () => {
    const tenant = await seedTenant(server.database.ownerUrl);
    const token = await server.tokenFor(tenant, tenant.users[0]!);
    // A failing user lookup makes the operation write a log line (its masked error's).
    await withClient(server.database.ownerUrl, (client) => client.query('revoke select on users from sluice_app'));
    try {
      await server.graphql('{ viewer { user { email } } }', { token, headers: { 'x-request-id': 'no-trace-1' } });
    } finally {
      await withClient(server.database.ownerUrl, (client) => client.query('grant select on users to sluice_app'));
    }
    const lines = server.logs.filter((line) => line.requestId === 'no-trace-1');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => 'traceId' in line)).toEqual([]);
  });
});
