/**
 * Model health (issue 20, item 7): the worker's checks of published endpoints' models, what
 * they find on `Model.health`, `Endpoint.health` and `/metrics`, and a query whose model is
 * DOWN refused at once (MODEL_UNAVAILABLE) without calling it. The model servers are
 * fake-openai: a test double for a third-party model server, a real HTTP server speaking the
 * OpenAI protocol, scripted to answer, fail or be slow. Rounds are driven by the test
 * (`runHealthRound`, the function the queue's task runs), and once through the queue itself;
 * the server's own interval is an hour, so no round runs behind the test's back.
 */
import { makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { UpstreamError } from '../../src/domains/errors.js';
import { endpointHealthByIds } from '../../src/domains/model-health/endpoint-health.js';
import { runHealthRound } from '../../src/domains/model-health/health-round.js';
import { describeFailure } from '../../src/domains/model-health/model-check.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { modelAccess } from '../../src/server/job-worker.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createModel, endpointOver, gql, must, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { scrape, sumOf } from '../support/metrics.js';
import { restQuery } from '../support/rest.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [
  { title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' },
  { title: 'Weirs', text: 'A weir holds water back across a river. Water flows over the crest of the weir.' },
];
const API_KEY = 'sk-health-check-secret-0123456789abcdef';
// Far above a local answer's latency even on a loaded machine; the slow model waits 1.5 times this.
const SLOW_MS = 1000;
const HEALTH = 'health { status lastCheckedAt latencyMs lastError }';

let server: TestServer;
let chatFake: FakeOpenAI;
let embeddingsFake: FakeOpenAI;
let owner: Tenant;
let other: Tenant;
let setup: EndpointSetup;
let ownerSql: pg.Pool;

beforeAll(async () => {
  [chatFake, embeddingsFake] = await Promise.all([startFakeOpenAI(), startFakeOpenAI()]);
  server = await startTestServer({
    env: {
      SLUICE_HEALTH_INTERVAL_S: '3600',
      SLUICE_HEALTH_SLOW_MS: String(SLOW_MS),
      SLUICE_HEALTH_WINDOW: '2',
      SLUICE_HEALTH_DOWN_AFTER: '2',
      SLUICE_MODEL_TIMEOUT_MS: '10000',
      SLUICE_MODEL_MAX_RETRIES: '0',
    },
  });
  ownerSql = new pg.Pool({ connectionString: server.database.ownerUrl, max: 2 });
  [owner, other] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  setup = await endpointOver(server, owner.token, DOCS, {
    published: true,
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: chatFake.baseUrl, model: 'sluice-test' }, apiKey: API_KEY },
  });
});
afterAll(async () => {
  await ownerSql?.end();
  await server?.close();
  await Promise.all([chatFake?.close(), embeddingsFake?.close()]);
});

/** One round of checks, as the queue's task runs it (its tenants read over the owner connection, as the task does). */
async function round() {
  return runHealthRound({
    orm: server.orm,
    models: modelAccess(server.config),
    settings: server.config.modelHealth,
    log: createLogger({ level: 'silent' }),
    publishingTenants: async () => (await ownerSql.query<{ tenant_id: string }>('select distinct tenant_id from endpoints where published')).rows.map((row) => row.tenant_id),
  });
}

async function healthOf(token: string, endpointId: string) {
  const data = await must(server, token, `query($id: ID!) { node(id: $id) { ... on Endpoint { ${HEALTH} model { ${HEALTH} } } } }`, { id: endpointId });
  return data.node as { health: any; model: { health: any } };
}

async function usageOutcomes(endpointId: string): Promise<string[]> {
  const { rows } = await ownerSql.query<{ outcome: string }>('select outcome from usage_records where endpoint_id = $1 order by created_at, id', [databaseIdOf(endpointId)]);
  return rows.map((row) => row.outcome);
}

describe('model health', () => {
  it('is null before the first check; a healthy model is HEALTHY with its latency, checked by a one-token request with its key, and no usage is counted', async () => {
    expect(await healthOf(owner.token, setup.endpointId)).toEqual({ health: null, model: { health: null } });
    chatFake.script({ deltas: ['pong'] });
    const before = chatFake.requests.length;
    const report = await round();
    expect(report.models).toBeGreaterThanOrEqual(1);

    const probe = chatFake.requests.slice(before);
    expect(probe.length).toBe(1);
    expect(probe[0]!.body).toMatchObject({ model: 'sluice-test', max_tokens: 1, stream: false });
    expect(probe[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);

    const { health, model } = await healthOf(owner.token, setup.endpointId);
    expect(model.health).toEqual({ status: 'HEALTHY', lastCheckedAt: expect.any(String), latencyMs: expect.any(Number), lastError: null });
    expect(model.health.latencyMs).toBeGreaterThanOrEqual(0);
    expect(health).toEqual({ ...model.health });
    expect(await usageOutcomes(setup.endpointId)).toEqual([]);
  });

  it('a failing server makes the model DOWN with a redacted error; a query then fails fast with MODEL_UNAVAILABLE (REST: 503) without reaching the server, recorded in usage', async () => {
    chatFake.script({ deltas: ['pong'], failures: [{ status: 500 }, { status: 500 }] });
    await round();
    expect((await healthOf(owner.token, setup.endpointId)).model.health).toMatchObject({ status: 'DEGRADED', latencyMs: null, lastError: 'HTTP_ERROR: The model server answered HTTP 500' });
    await round();
    const { health, model } = await healthOf(owner.token, setup.endpointId);
    expect(model.health).toMatchObject({ status: 'DOWN', latencyMs: null, lastError: 'HTTP_ERROR: The model server answered HTTP 500' });
    expect(health).toMatchObject({ status: 'DOWN', lastError: 'chat model: HTTP_ERROR: The model server answered HTTP 500' });
    expect(JSON.stringify([health, model])).not.toContain(API_KEY);

    const before = chatFake.requests.length;
    const body = await queryEndpoint(server, owner.token, setup.reference, 'how does the lock fill');
    expect(body.errors[0].extensions).toMatchObject({ code: 'MODEL_UNAVAILABLE', reason: 'MODEL_DOWN', model: 'CHAT' });
    expect(chatFake.requests.length).toBe(before);
    expect(await usageOutcomes(setup.endpointId)).toEqual(['MODEL_UNAVAILABLE']);

    // The REST door answers the same refusal as problem details: 503, come back at the next check.
    const rest = await restQuery(server, setup.reference, { query: 'how does the lock fill' }, { token: other.token });
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBe('3600');
    expect(rest.body).toMatchObject({ type: 'urn:sluice:error:MODEL_UNAVAILABLE', status: 503, reason: 'MODEL_DOWN', model: 'CHAT' });
    expect(chatFake.requests.length).toBe(before);
    expect(await usageOutcomes(setup.endpointId)).toEqual(['MODEL_UNAVAILABLE', 'MODEL_UNAVAILABLE']);
  });

  it('/metrics shows the model’s and the endpoint’s health by id, never a name, address or key', async () => {
    const response = await fetch(`${server.baseUrl}/metrics`);
    const text = await response.text();
    const model = `tenant_id="${owner.tenant.id}",model_id="${databaseIdOf(setup.modelId)}"`;
    expect(text).toContain(`sluice_model_health{${model},status="DOWN"} 1`);
    expect(text).toContain(`sluice_model_health{${model},status="HEALTHY"} 0`);
    expect(text).toMatch(new RegExp(`sluice_model_last_check_timestamp_seconds\\{${model}\\} \\d+`));
    expect(text).toContain(`sluice_endpoint_health{tenant_id="${owner.tenant.id}",endpoint_id="${databaseIdOf(setup.endpointId)}",status="DOWN"} 1`);
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(chatFake.baseUrl);
  });

  it('the server back: DEGRADED while the failures are in the window, then HEALTHY, and queries are answered again', async () => {
    chatFake.script({ deltas: ['The keeper fills it [1].'] });
    await round();
    expect((await healthOf(owner.token, setup.endpointId)).model.health).toMatchObject({ status: 'DEGRADED', latencyMs: expect.any(Number) });
    await round();
    expect((await healthOf(owner.token, setup.endpointId)).model.health).toMatchObject({ status: 'HEALTHY', lastError: null });
    const body = await queryEndpoint(server, owner.token, setup.reference, 'how does the lock fill');
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.answer).toBe('The keeper fills it [1].');
  });

  it('a slow model is DEGRADED', async () => {
    chatFake.script({ deltas: ['pong'], delayMs: SLOW_MS * 1.5 });
    await round();
    const { model } = await healthOf(owner.token, setup.endpointId);
    expect(model.health.status).toBe('DEGRADED');
    expect(model.health.latencyMs).toBeGreaterThan(SLOW_MS);
    expect(model.health.lastError).toBeNull();
    chatFake.script({ deltas: ['pong'] });
    await round();
    expect((await healthOf(owner.token, setup.endpointId)).model.health.status).toBe('HEALTHY');
  });

  it('a server that refuses only the probe’s parameters (HTTP 400) answered: still HEALTHY', async () => {
    chatFake.script({ deltas: ['pong'], failures: [{ status: 400 }] });
    await round();
    expect((await healthOf(owner.token, setup.endpointId)).model.health).toMatchObject({ status: 'HEALTHY', lastError: null });
  });

  it('changing a model’s server forgets its health: null again until the next check', async () => {
    const model = await createModel(server, owner.token, { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: chatFake.baseUrl, model: 'a' } });
    const ep = await must(server, owner.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }`, {
      input: { name: 'Other', slug: uniqueSlug('ep'), datasetIds: [setup.datasetId], modelId: model.id, published: true },
    });
    await round();
    expect((await healthOf(owner.token, ep.createEndpoint.id)).model.health.status).toBe('HEALTHY');
    await must(server, owner.token, `mutation($id: ID!, $input: UpdateModelInput!) { updateModel(id: $id, input: $input) { id } }`, {
      id: model.id,
      input: { config: { baseUrl: chatFake.baseUrl, model: 'b' } },
    });
    expect((await healthOf(owner.token, ep.createEndpoint.id)).model.health).toBeNull();
  });

  it('the catalog shows a listed endpoint’s health, the same on GraphQL and REST, to any caller', async () => {
    await must(server, owner.token, `mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { listed } }`, {
      id: setup.endpointId,
      input: { listed: true },
    });
    const { health } = await healthOf(owner.token, setup.endpointId);
    expect(health.status).toBe('HEALTHY');
    const search = setup.reference.split('/')[1]!;
    const { body } = await server.graphql(`query($s: String) { catalog(search: $s) { edges { node { address ${HEALTH} } } } }`, { variables: { s: search } });
    expect(body.data.catalog.edges).toEqual([{ node: { address: setup.reference, health } }]);
    const rest = await (await fetch(`${server.baseUrl}/api/v1/endpoints?${new URLSearchParams({ search })}`, { headers: { authorization: `Bearer ${other.token}` } })).json();
    expect(rest.items.map((item: any) => [item.address, item.health])).toEqual([[setup.reference, health]]);
  });

  it('another tenant cannot read the health of an endpoint it cannot see; the catalog’s bulk read answers for published endpoints only', async () => {
    const hidden = await endpointOver(server, owner.token, DOCS, { published: true });
    await round();
    await must(server, owner.token, `mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { id } }`, {
      id: hidden.endpointId,
      input: { published: false },
    });
    const asOther = await gql(server, other.token, `query($id: ID!) { node(id: $id) { ... on Endpoint { ${HEALTH} } } }`, { id: hidden.endpointId });
    expect(asOther.data?.node ?? null).toBeNull();
    expect(JSON.stringify(asOther)).not.toContain('HEALTHY');

    const bulk = async (tenantId: string) => {
      const scope = TenantScope.open(server.orm, { tenantId, userId: null });
      try {
        return await scope.read((em) => endpointHealthByIds(em, [databaseIdOf(hidden.endpointId), databaseIdOf(setup.endpointId)]));
      } finally {
        scope.close();
      }
    };
    const seenByOther = await bulk(other.tenant.id);
    expect([...seenByOther.keys()]).toEqual([databaseIdOf(setup.endpointId)]);
    expect(seenByOther.get(databaseIdOf(setup.endpointId))!.status).toBe('HEALTHY');
    const seenByOwner = await bulk(owner.tenant.id);
    expect([...seenByOwner.keys()].sort()).toEqual([databaseIdOf(hidden.endpointId), databaseIdOf(setup.endpointId)].sort());
    expect(seenByOwner.get(databaseIdOf(hidden.endpointId))).toMatchObject({ status: 'HEALTHY', latencyMs: 0, lastError: null });
  });
});

describe('embeddings models', () => {
  let emb: { token: string; chatModelId: string; datasetId: string; embeddingsModelId: string };

  beforeAll(async () => {
    embeddingsFake.script({ deltas: [] });
    const embeddings = await createModel(server, owner.token, {
      name: uniqueSlug('emb'),
      type: 'openai-compatible-embeddings',
      config: { baseUrl: embeddingsFake.baseUrl, model: 'text-embedding-3-small', dimensions: 64 },
    });
    const dataset = await createDataset(server, owner.token, { embeddingModelId: embeddings.id });
    const { body } = await ingestInline(server, owner.token, dataset.id, DOCS);
    expect((await settled(server, owner.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    emb = { token: owner.token, chatModelId: chat.id, datasetId: dataset.id, embeddingsModelId: embeddings.id };
  });

  async function endpointWith(mode: string) {
    const data = await must(server, owner.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id reference } }`, {
      input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [emb.datasetId], modelId: emb.chatModelId, published: true, retrieval: { mode } },
    });
    return data.createEndpoint as { id: string; reference: string };
  }

  it('checks the embeddings model with one word; DOWN refuses SEMANTIC at once, while HYBRID answers by keyword and shows DEGRADED', async () => {
    const semantic = await endpointWith('SEMANTIC');
    const hybrid = await endpointWith('HYBRID');
    const keyword = await endpointWith('KEYWORD');
    const before = embeddingsFake.requests.length;
    await round();
    const probes = embeddingsFake.requests.slice(before);
    expect(probes.map((request) => request.body.input)).toEqual([['ping']]);
    expect((await healthOf(owner.token, semantic.id)).health).toMatchObject({ status: 'HEALTHY' });

    embeddingsFake.script({ failures: [{ status: 503 }, { status: 503 }] });
    await round();
    await round();
    expect((await healthOf(owner.token, semantic.id)).health).toMatchObject({ status: 'DOWN', lastError: 'embeddings model: HTTP_ERROR: The model server answered HTTP 503' });
    expect((await healthOf(owner.token, hybrid.id)).health).toMatchObject({ status: 'DEGRADED' });
    // The engine says what the queries below do: HYBRID ranks by keyword alone while the model is DOWN.
    const engineOf = async (id: string) => (await must(server, owner.token, 'query($id: ID!) { node(id: $id) { ... on Endpoint { retrieval { engine } } } }', { id })).node.retrieval.engine;
    expect(await engineOf(hybrid.id)).toBe('HYBRID_BM25_ONLY');
    expect(await engineOf(semantic.id)).toMatch(/^VECTOR_(EXACT|HNSW)$/);
    expect((await healthOf(owner.token, keyword.id)).health).toMatchObject({ status: 'HEALTHY', lastError: null });

    const asked = embeddingsFake.requests.length;
    const refused = await queryEndpoint(server, owner.token, semantic.reference, 'how does the lock fill');
    expect(refused.errors[0].extensions).toMatchObject({ code: 'MODEL_UNAVAILABLE', model: 'EMBEDDINGS' });
    const answered = await queryEndpoint(server, owner.token, hybrid.reference, 'how does the lock fill', undefined, 'passages { documentTitle ranks { keyword semantic } } answer');
    expect(answered.errors).toBeUndefined();
    expect(answered.data.queryEndpoint.passages[0]).toEqual({ documentTitle: 'Locks', ranks: { keyword: 1, semantic: null } });
    expect(embeddingsFake.requests.length).toBe(asked);
    embeddingsFake.script({ deltas: [] });
    await round();
    expect(await engineOf(hybrid.id)).toMatch(/^HYBRID_BM25_(EXACT|HNSW)$/);
  });

  it('an embeddings model whose vectors are no longer of the length its datasets hold is DOWN, as every semantic query over them fails', async () => {
    // No `dimensions` configured: the server's first answer decided the stored length (16).
    const drifting = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: embeddingsFake.baseUrl, model: 'drifting' } });
    const dataset = await createDataset(server, owner.token, { embeddingModelId: drifting.id });
    const { body } = await ingestInline(server, owner.token, dataset.id, DOCS);
    expect((await settled(server, owner.token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    const endpoint = (
      await must(server, owner.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }`, {
        input: { name: 'Drifting', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: emb.chatModelId, published: true, retrieval: { mode: 'SEMANTIC' } },
      })
    ).createEndpoint as { id: string };
    await round();
    expect((await healthOf(owner.token, endpoint.id)).health).toMatchObject({ status: 'HEALTHY', lastError: null });

    embeddingsFake.script({ deltas: [], embeddings: { dimension: 12 } });
    await round();
    await round();
    const wrongLength = "BAD_RESPONSE: The model server sent vectors of dimension 12 where the datasets' vectors by this model have 16: it no longer answers as the model they were embedded with";
    expect((await healthOf(owner.token, endpoint.id)).health).toMatchObject({ status: 'DOWN', lastError: `embeddings model: ${wrongLength}` });
    const model = (await must(server, owner.token, `query($id: ID!) { node(id: $id) { ... on Model { ${HEALTH} } } }`, { id: drifting.id })).node;
    expect(model.health).toMatchObject({ status: 'DOWN', lastError: wrongLength });
    embeddingsFake.script({ deltas: [] });
  });
});

describe('through the queue', () => {
  let utils: WorkerUtils;
  beforeAll(async () => {
    utils = await makeWorkerUtils({ connectionString: server.database.ownerUrl });
  });
  afterAll(async () => {
    await utils?.release();
  });

  it('the worker runs a round queued under the job key, then queues the next one an interval later, once', async () => {
    chatFake.script({ deltas: ['pong'] });
    const { model: before } = await healthOf(owner.token, setup.endpointId);
    const checks = async () => sumOf(await scrape(server), 'sluice_model_call_duration_seconds_count', { model_id: databaseIdOf(setup.modelId), kind: 'test', outcome: 'ok' });
    const checksBefore = await checks();
    // Run the waiting round now (the key's job is replaced, so there is still one).
    await utils.addJob('model-health', {}, { jobKey: 'model-health', runAt: new Date() });
    const deadline = Date.now() + 20_000;
    let after = before;
    while (after.health.lastCheckedAt === before.health.lastCheckedAt) {
      if (Date.now() > deadline) throw new Error('the queued health round did not run within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
      ({ model: after } = await healthOf(owner.token, setup.endpointId));
    }
    expect(after.health.status).toBe('HEALTHY');
    // The worker's check is a model call of kind `test` on /metrics (it was not counted).
    expect((await checks()) - checksBefore).toBe(1);
    const next = async () => (await ownerSql.query<{ run_at: Date }>(`select run_at from graphile_worker.jobs where key = 'model-health'`)).rows;
    let queued = await next();
    while (queued.length !== 1 || queued[0]!.run_at.getTime() < Date.now() + 60_000) {
      if (Date.now() > deadline) throw new Error(`the next round was not queued: ${JSON.stringify(queued)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      queued = await next();
    }
    expect(queued[0]!.run_at.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
  });
});

describe('what a failed check says', () => {
  it('keeps the reason and message, and drops credentials a message might carry', () => {
    const error = new UpstreamError(`could not reach https://user:hunter2@models.example/v1 with ${API_KEY}`, { reason: 'NETWORK' });
    const text = describeFailure(error);
    expect(text).toMatch(/^NETWORK: could not reach https:\/\/\[redacted\]@models\.example\/v1 with sk-\[redacted\]/);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(API_KEY);
    expect(describeFailure(new Error(`boom ${API_KEY}`))).toBe('The check failed unexpectedly');
  });
});
