/**
 * The `openai-compatible-embeddings` model type (issue 19, item 3, first step): created and
 * listed over GraphQL with its kind, its API key sealed; refused as an endpoint's answering
 * model; and its provider, reached through the domain (`embedderFor`, what ingestion will
 * call: no GraphQL field embeds yet), against fake-openai: a test double for a third-party
 * model server, a real HTTP server on 127.0.0.1 that speaks the real `/v1/embeddings` protocol.
 * Covers batching, `dimensions`, usage and cost, retries on 429/5xx, the timeout, malformed
 * answers (UPSTREAM_ERROR, never a 500) and the egress guard.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { UpstreamError, ValidationError } from '../../src/domains/errors.js';
import { embedderFor } from '../../src/domains/models/model.service.js';
import type { ProviderSettings } from '../../src/domains/models/provider.js';
import { parsePrivateNetworkPolicy } from '../../src/platform/egress/policy.js';
import { createModel, gql, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';
import { pollUntil } from '../support/poll.js';

const API_KEY = `sk-emb-${randomBytes(12).toString('hex')}`;
const MODEL_FIELDS = 'id name type kind config apiKeySet apiKeyLast4 promptMicrosPer1k';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer();
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});


async function modelRow(id: string) {
  return withClient(server.database.ownerUrl, async (client) => (await client.query(`select * from models where id = $1`, [databaseIdOf(id)])).rows[0]);
}

/** The provider as the domain calls it, with the server's master key and these settings. */
async function embedder(modelId: string, settings: Partial<ProviderSettings> = {}) {
  const row = await modelRow(modelId);
  const model = {
    id: row.id,
    name: row.name,
    type: row.type,
    config: row.config,
    apiKeyCiphertext: row.api_key_ciphertext,
    apiKeyKeyId: row.api_key_key_id,
    promptMicrosPer1k: row.prompt_micros_per1k,
  };
  const deps = {
    secrets: secretsOf(server),
    modelSettings: { ...server.config.models, requestTimeoutMs: 2_000, maxRetries: 2, retryBaseDelayMs: 10, ...settings },
  };
  return embedderFor(deps, model);
}

const embeddingsModel = (config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  name: uniqueSlug('emb'),
  type: 'openai-compatible-embeddings',
  config: { baseUrl: fake.baseUrl, model: 'text-embedding-3-small', ...config },
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((sum, value, index) => sum + value * b[index]!, 0);

describe('over GraphQL', () => {
  it('creates and lists the model with its kind; the key is sealed, never read back nor audited', async () => {
    const { createModel: created } = await must(server, owner.token, `mutation($input: CreateModelInput!) { createModel(input: $input) { ${MODEL_FIELDS} } }`, {
      input: embeddingsModel({ dimensions: 8 }, { apiKey: API_KEY, promptMicrosPer1k: 20 }),
    });
    expect(created).toMatchObject({ type: 'openai-compatible-embeddings', kind: 'EMBEDDINGS', apiKeySet: true, apiKeyLast4: API_KEY.slice(-4) });
    expect(created.config).toEqual({ baseUrl: fake.baseUrl, model: 'text-embedding-3-small', dimensions: 8, batchSize: 64 });

    const { models, modelTypes } = await must(server, owner.token, `{ models(first: 100) { edges { node { ${MODEL_FIELDS} } } } modelTypes { name kind acceptsApiKey } }`);
    expect(models.edges.find(({ node }: any) => node.id === created.id)?.node).toEqual(created);
    expect(modelTypes).toEqual(
      expect.arrayContaining([
        { name: 'openai-compatible-embeddings', kind: 'EMBEDDINGS', acceptsApiKey: true },
        { name: 'openai-compatible', kind: 'CHAT', acceptsApiKey: true },
        { name: 'extractive', kind: 'CHAT', acceptsApiKey: false },
      ]),
    );

    const row = await modelRow(created.id);
    expect(JSON.stringify(row)).not.toContain(API_KEY);
    expect(row.api_key_ciphertext).toEqual(expect.any(String));

    const readTrail = async () => (await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${owner.token}` } })).text();
    const trail = await pollUntil(readTrail, (text) => text.includes(databaseIdOf(created.id)), { failure: () => `the model ${created.id} is not on the audit trail` });
    expect(trail).toContain('model.create');
    expect(trail).toContain(databaseIdOf(created.id));
    expect(trail).not.toContain(API_KEY);
    expect(JSON.stringify(server.logs)).not.toContain(API_KEY);
  });

  it('validates the configuration', async () => {
    for (const config of [{ dimensions: 0 }, { dimensions: 2.5 }, { batchSize: 0 }, { temperature: 1 }, { baseUrl: 'ftp://x/v1' }]) {
      const body = await gql(server, owner.token, `mutation($input: CreateModelInput!) { createModel(input: $input) { id } }`, { input: embeddingsModel(config) });
      expect(body.errors?.[0]?.extensions?.code, JSON.stringify(config)).toBe('BAD_USER_INPUT');
    }
  });

  it('refuses an embeddings model as an endpoint’s answering model, on create and on update', async () => {
    const model = await createModel(server, owner.token, embeddingsModel());
    const chat = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const dataset = await createDataset(server, owner.token);
    const create = `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }`;
    const refused = await gql(server, owner.token, create, { input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: model.id } });
    expect(refused.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'modelId', reason: 'WRONG_MODEL_KIND', expected: 'CHAT', actual: 'EMBEDDINGS' });
    expect(refused.errors[0].message).toContain('needs an answering (chat) model');

    const { createEndpoint } = await must(server, owner.token, create, { input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: chat.id } });
    const update = `mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { id } }`;
    const refusedUpdate = await gql(server, owner.token, update, { id: createEndpoint.id, input: { modelId: model.id } });
    expect(refusedUpdate.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'modelId', reason: 'WRONG_MODEL_KIND' });
  });
});

describe('the provider, through the domain', () => {
  it('embeds in batches with the key and `dimensions`, vectors in input order, usage priced', async () => {
    const model = await createModel(server, owner.token, embeddingsModel({ dimensions: 12, batchSize: 2 }, { apiKey: API_KEY, promptMicrosPer1k: 20 }));
    fake.script({});
    const before = fake.requests.length;
    const texts = ['The lock keeper opens the gates.', 'Sluice gates hold the water.', 'A recipe for bread.', 'The keeper of the lock.', 'Yeast and flour.'];
    const { vectors, usage } = await (await embedder(model.id)).embed(texts);

    const requests = fake.requests.slice(before);
    expect(requests.map((request) => request.body.input)).toEqual([texts.slice(0, 2), texts.slice(2, 4), texts.slice(4)]);
    for (const request of requests) {
      expect(request.body).toMatchObject({ model: 'text-embedding-3-small', dimensions: 12, encoding_format: 'float' });
      expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    }
    expect(vectors).toHaveLength(5);
    expect(vectors.every((vector) => vector.length === 12)).toBe(true);
    // In input order: the two texts about the lock keeper are each other's nearest neighbours.
    expect(cosine(vectors[0]!, vectors[3]!)).toBeGreaterThan(cosine(vectors[0]!, vectors[2]!));
    const tokens = texts.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
    expect(usage).toEqual({ promptTokens: tokens, costMicros: Math.round((tokens * 20) / 1000) });
  });

  it('estimates tokens when the server reports none, and takes the dimension the server chooses', async () => {
    const model = await createModel(server, owner.token, embeddingsModel());
    fake.script({ embeddings: { usage: null, dimension: 5 } });
    const before = fake.requests.length;
    const { vectors, usage } = await (await embedder(model.id)).embed(['abcdefgh', 'abcd']);
    expect(fake.requests[before]!.body).not.toHaveProperty('dimensions');
    expect(vectors.map((vector) => vector.length)).toEqual([5, 5]);
    expect(usage).toEqual({ promptTokens: 3, costMicros: 0 });
  });

  it('retries 429 and 5xx with backoff, then succeeds; gives up after maxRetries', async () => {
    const model = await createModel(server, owner.token, embeddingsModel());
    fake.script({ failures: [{ status: 429, retryAfter: '0' }, { status: 503 }] });
    const before = fake.requests.length;
    const { vectors } = await (await embedder(model.id)).embed(['one']);
    expect(vectors).toHaveLength(1);
    expect(fake.requests.slice(before).map((request) => request.status)).toEqual([429, 503, 200]);

    fake.script({ failures: [{ status: 500 }, { status: 502 }, { status: 503 }] });
    const error = await failure((await embedder(model.id)).embed(['one']));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.details).toMatchObject({ reason: 'HTTP_ERROR', status: 503, attempts: 3 });
    expect(error.message).not.toContain('scripted');

    fake.script({ failures: [{ status: 401 }] });
    const unauthorized = await failure((await embedder(model.id)).embed(['one']));
    expect(unauthorized.details).toMatchObject({ reason: 'HTTP_ERROR', status: 401, attempts: 1 });
  });

  it('times out a server that does not answer', async () => {
    const model = await createModel(server, owner.token, embeddingsModel());
    fake.script({ hangAfter: 0 });
    const started = Date.now();
    const error = await failure((await embedder(model.id, { requestTimeoutMs: 300, maxRetries: 0 })).embed(['one']));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.details).toMatchObject({ reason: 'TIMEOUT', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses malformed answers as UPSTREAM_ERROR BAD_RESPONSE', async () => {
    const model = await createModel(server, owner.token, embeddingsModel({ dimensions: 6 }));
    for (const malformed of ['count', 'dimension', 'not-finite', 'indexes', 'garbage', 'zeros'] as const) {
      fake.script({ embeddings: { malformed } });
      const error = await failure((await embedder(model.id)).embed(['one', 'two', 'three']));
      expect(error, malformed).toBeInstanceOf(UpstreamError);
      expect(error.code, malformed).toBe('UPSTREAM_ERROR');
      expect(error.details, malformed).toMatchObject({ reason: 'BAD_RESPONSE', attempts: 1 });
    }
    // A server that ignores `dimensions`: its vectors are the wrong size.
    fake.script({ embeddings: { ignoreDimensions: true, dimension: 16 } });
    const error = await failure((await embedder(model.id)).embed(['one']));
    expect(error.details).toMatchObject({ reason: 'BAD_RESPONSE' });
    expect(error.message).toContain('dimension 16 where 6 was expected');
  });

  it('refuses a chat model where embeddings are needed', async () => {
    const chat = await createModel(server, owner.token, { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' } });
    const error = await failure(embedder(chat.id));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.details).toMatchObject({ field: 'embeddingModelId', reason: 'WRONG_MODEL_KIND', expected: 'EMBEDDINGS', actual: 'CHAT' });
  });
});

describe('the egress guard', () => {
  it('refuses a private baseUrl when stored, and when called: no request reaches the server', async () => {
    const guarded = await startTestServer({ database: server.database, env: { SLUICE_MODEL_PRIVATE_NETWORKS: 'deny' } });
    try {
      const body = await gql(guarded, owner.token, `mutation($input: CreateModelInput!) { createModel(input: $input) { id } }`, {
        input: embeddingsModel({ baseUrl: 'http://10.1.2.3:8080/v1' }),
      });
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.baseUrl', reason: 'PRIVATE_ADDRESS' });
    } finally {
      await guarded.close();
    }
    // Stored while allowed, under a name that resolves to loopback; called under `deny`.
    const model = await createModel(server, owner.token, embeddingsModel({ baseUrl: fake.baseUrl.replace('127.0.0.1', 'localhost') }));
    const before = fake.requests.length;
    const error = await failure((await embedder(model.id, { privateNetworks: parsePrivateNetworkPolicy('deny') })).embed(['one']));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.details).toMatchObject({ reason: 'PRIVATE_ADDRESS', attempts: 1 });
    expect(fake.requests.length).toBe(before);
  });
});
