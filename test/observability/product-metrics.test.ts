/**
 * The product's series at /metrics (issue 22, item 4), scraped over HTTP from the real server
 * with its in-process worker after real requests: ingestion volume by outcome, endpoint query
 * latency per endpoint, model call latency and tokens, policy decisions by outcome, refused
 * credentials, and requests per root field, whose labels stay bounded however many operation
 * names and aliases a caller invents. Also: every expression of the Grafana dashboard in
 * docs/grafana/ names a series this server exports.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, endpointOver, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner } from '../support/ingestion.js';
import { scrape, scrapeText, sumOf, value } from '../support/metrics.js';
import { createPolicy } from '../support/policies.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});


const DOCUMENTS = [
  { title: 'Lamp', text: 'The lamp is wound every evening at dusk by the keeper of the lighthouse.' },
  { title: 'Fog', text: 'In fog the horn sounds twice a minute until the keeper sees the far buoy.' },
];

describe('product series', () => {
  // Ingests, asks and decides through the real server: on a machine as busy as 2 cores under 20 runnable
  // processes it took over 30 s once, so it has more room than the default.
  it('counts ingestion, endpoint queries, model calls and policy decisions with the values the API reports', { timeout: 90_000 }, async () => {
    const { token } = await tenantWithOwner(server);
    const before = await scrape(server);
    const setup = await endpointOver(server, token, DOCUMENTS);
    const ingested = await scrape(server);
    const { body: dataset } = await server.graphql('query($id: ID!) { node(id: $id) { ... on Dataset { documentCount chunkCount bytes } } }', { token, variables: { id: setup.datasetId } });
    const { documentCount, chunkCount, bytes } = dataset.data.node;
    expect(documentCount).toBe(2);
    expect({
      documents: sumOf(ingested, 'sluice_ingestion_documents_total', { outcome: 'INDEXED' }) - sumOf(before, 'sluice_ingestion_documents_total', { outcome: 'INDEXED' }),
      chunks: sumOf(ingested, 'sluice_ingestion_chunks_total', { outcome: 'INDEXED' }) - sumOf(before, 'sluice_ingestion_chunks_total', { outcome: 'INDEXED' }),
      bytes: sumOf(ingested, 'sluice_ingestion_bytes_total', { outcome: 'INDEXED' }) - sumOf(before, 'sluice_ingestion_bytes_total', { outcome: 'INDEXED' }),
    }).toEqual({ documents: 2, chunks: chunkCount, bytes });

    const answers = [];
    for (const question of ['When is the lamp wound?', 'How often does the horn sound?']) {
      const { data, errors } = await queryEndpoint(server, token, setup.reference, question);
      expect(errors).toBeUndefined();
      answers.push(data.queryEndpoint.usage);
    }
    // A content guard: one question with a link is denied, one without is allowed.
    await createPolicy(server, token, setup.endpointId, 'content_guard', { maxUrls: 0, maxViolationsPerMinute: 100 });
    expect((await queryEndpoint(server, token, setup.reference, 'see https://example.com/lamp')).errors[0].extensions.code).toBe('POLICY_DENIED');
    expect((await queryEndpoint(server, token, setup.reference, 'When is the lamp wound?')).errors).toBeUndefined();
    const after = await scrape(server);

    const endpoint = databaseIdOf(setup.endpointId);
    const model = databaseIdOf(setup.modelId);
    expect(value(after, `sluice_endpoint_query_duration_seconds_count{endpoint_id="${endpoint}",outcome="ok"}`)).toBe(3);
    expect(value(after, `sluice_endpoint_query_duration_seconds_sum{endpoint_id="${endpoint}",outcome="ok"}`)).toBeGreaterThan(0);
    expect(sumOf(after, 'sluice_model_call_duration_seconds_count', { model_id: model, kind: 'chat', outcome: 'ok' })).toBe(3);
    const [first, second] = answers;
    const tokens = (direction: string) => sumOf(after, 'sluice_model_tokens_total', { model_id: model, kind: 'chat', direction });
    // The third answer is the first question again: the same tokens as the first.
    expect({ prompt: tokens('prompt'), completion: tokens('completion') }).toEqual({
      prompt: 2 * first.promptTokens + second.promptTokens,
      completion: 2 * first.completionTokens + second.completionTokens,
    });
    expect(tokens('prompt') + tokens('completion')).toBeGreaterThan(0);
    const decisions = (labels: Record<string, string>) => sumOf(after, 'sluice_policy_decisions_total', labels) - sumOf(before, 'sluice_policy_decisions_total', labels);
    expect({ denied: decisions({ outcome: 'denied', rule: 'content_guard' }), allowed: decisions({ outcome: 'allowed', rule: 'none' }) }).toEqual({ denied: 1, allowed: 1 });
  });

  it('counts embedding calls of ingestion and semantic queries, and model tests, by kind (they were not counted)', async () => {
    const { token } = await tenantWithOwner(server);
    // Every embeddings answer reports 7 tokens: the series must add up to 7 a request.
    fake.script({ embeddings: { usage: { prompt_tokens: 7, total_tokens: 7 } } });
    const embeddings = await createModel(server, token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'small', batchSize: 1 } });
    const model = databaseIdOf(embeddings.id);
    const series = (samples: Map<string, number>, kind: string, outcome = 'ok') => ({
      calls: sumOf(samples, 'sluice_model_call_duration_seconds_count', { model_id: model, kind, outcome }),
      tokens: sumOf(samples, 'sluice_model_tokens_total', { model_id: model, kind, direction: 'prompt' }),
    });

    const sent = fake.requests.length;
    const setup = await endpointOver(server, token, DOCUMENTS, { retrieval: { mode: 'SEMANTIC' }, dataset: { embeddingModelId: embeddings.id } });
    const ingestedCalls = fake.requests.length - sent;
    expect(ingestedCalls).toBeGreaterThanOrEqual(2); // batchSize 1: a request per chunk
    const ingested = await scrape(server);
    expect(series(ingested, 'embedding')).toEqual({ calls: ingestedCalls, tokens: 7 * ingestedCalls });
    expect(sumOf(ingested, 'sluice_model_tokens_total', { model_id: model, direction: 'completion' })).toBe(0);

    // A semantic query embeds the question: one more embedding call.
    expect((await queryEndpoint(server, token, setup.reference, 'When is the lamp wound?')).errors).toBeUndefined();
    const asked = await scrape(server);
    expect(series(asked, 'embedding')).toEqual({ calls: ingestedCalls + 1, tokens: 7 * (ingestedCalls + 1) });

    // testModel: one `test` call, not also an `embedding` one.
    const test = 'mutation($id: ID!) { testModel(id: $id) { ok error } }';
    expect((await must(server, token, test, { id: embeddings.id })).testModel).toEqual({ ok: true, error: null });
    const tested = await scrape(server);
    expect(series(tested, 'test')).toEqual({ calls: 1, tokens: 7 });
    expect(series(tested, 'embedding')).toEqual(series(asked, 'embedding'));

    // A failed test and a failed embedding call are counted as errors.
    fake.script({ failures: [{ status: 401 }, { status: 401 }, { status: 401 }, { status: 401 }] });
    expect((await must(server, token, test, { id: embeddings.id })).testModel.ok).toBe(false);
    const failed = await scrape(server);
    expect(series(failed, 'test', 'error').calls).toBe(1);
    fake.script({ failures: [{ status: 401 }, { status: 401 }, { status: 401 }, { status: 401 }] });
    expect((await queryEndpoint(server, token, setup.reference, 'When is the lamp wound?')).errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(series(await scrape(server), 'embedding', 'error').calls).toBe(1);
    fake.script({});
  });

  it('counts refused credentials by kind and reason', async () => {
    const before = await scrape(server);
    expect((await server.graphql('{ viewer { kind } }', { token: 'not-a-token' })).status).toBe(401);
    expect((await server.graphql('{ viewer { kind } }', { headers: { 'x-api-key': 'sk_not_a_key' } })).status).toBe(401);
    const after = await scrape(server);
    const moved = (credential: string) => sumOf(after, 'sluice_credential_failures_total', { credential }) - sumOf(before, 'sluice_credential_failures_total', { credential });
    expect({ accessToken: moved('accessToken'), apiKey: moved('apiKey') }).toEqual({ accessToken: 1, apiKey: 1 });
  });

  it('counts requests per root field, and invented operation names and aliases create no series', async () => {
    const { token } = await tenantWithOwner(server);
    const shape = (i: number) => `query Probe${i}x${Math.random().toString(36).slice(2)} { alias${i}: viewer { kind } }`;
    // Warm up: the series this shape makes exist after the first request.
    expect((await server.graphql(shape(0), { token })).body.errors).toBeUndefined();
    expect((await server.graphql('{ nope_field }', { token })).status).toBe(400);
    const before = await scrapeText(server);
    for (let i = 1; i <= 20; i++) expect((await server.graphql(shape(i), { token })).body.errors).toBeUndefined();
    for (let i = 1; i <= 5; i++) expect((await server.graphql(`{ nope${i}${Math.random().toString(36).slice(2)} }`, { token })).status).toBe(400);
    const after = await scrapeText(server);
    expect(value(after.samples, 'sluice_graphql_root_fields_total{operation_type="query",field="viewer",outcome="ok"}') - value(before.samples, 'sluice_graphql_root_fields_total{operation_type="query",field="viewer",outcome="ok"}')).toBe(20);
    const seriesNames = (text: string) => new Set([...new Map(text.split('\n').filter((line) => /^sluice_graphql_/.test(line)).map((line) => [line.split(' ')[0]!, true])).keys()]);
    expect([...seriesNames(after.text)].filter((series) => !seriesNames(before.text).has(series))).toEqual([]);
    expect(after.text).not.toMatch(/Probe|alias\d|nope/);
  });
});

describe('the Grafana dashboard', () => {
  it('queries only series this server exports', async () => {
    const dashboard = JSON.parse(readFileSync('docs/grafana/sluice-dashboard.json', 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; query: unknown }[] };
    };
    const expressions = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr }))),
      ...dashboard.templating.list.flatMap((variable) => (typeof variable.query === 'string' ? [{ panel: `$${variable.name}`, expr: variable.query }] : [])),
    ];
    expect(expressions.length).toBeGreaterThan(10);
    const { text } = await scrapeText(server);
    // Every family the server declares, with a histogram's _bucket, _sum and _count.
    const exported = new Set<string>();
    for (const [, name, type] of text.matchAll(/^# TYPE (\w+) (\w+)$/gm)) {
      exported.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
    }
    const unknown = expressions.flatMap(({ panel, expr }) => {
      const named = (expr.match(/\b(?:sluice|process|nodejs)_[a-z_]+\b/g) ?? []).filter((name) => !exported.has(name));
      return named.map((name) => `${panel}: ${name}`);
    });
    expect(unknown).toEqual([]);
    // Each panel queries at least one Sluice series (not only process metrics).
    expect(dashboard.panels.filter((panel) => panel.targets && !panel.targets.some((target) => /\bsluice_/.test(target.expr))).map((panel) => panel.title)).toEqual([]);
  });
});
