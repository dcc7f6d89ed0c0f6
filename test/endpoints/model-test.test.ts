/**
 * `testModel` ("test connection", issue 21): one check of a model on demand, told to the caller
 * as a result (a failing model is ok: false with its reason, not an error), audited as
 * `model.test`, ADMIN only, another tenant's model NOT_FOUND, the model's health untouched.
 * The model servers are fake-openai: a test double for a third-party model server, a real HTTP
 * server speaking the OpenAI protocol, scripted to answer or refuse; the unreachable one is a
 * port nobody listens on.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createModel, gql, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { seedTenant } from '../support/seed.js';
import { createDataset, ingestInline, settled, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const TEST = 'mutation($id: ID!) { testModel(id: $id) { ok latencyMs error testedAt model { id name health { status } } } }';
const API_KEY = 'sk-model-test-secret-0123456789abcdef';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_TIMEOUT_MS: '10000', SLUICE_MODEL_MAX_RETRIES: '3' } });
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A port on 127.0.0.1 that was free a moment ago and is closed now: connecting is refused. */
async function closedPort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  await new Promise((resolve) => listener.close(resolve));
  return port;
}

describe('testModel', () => {
  it('answers ok for the built-in extractive model without calling anything', async () => {
    const model = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const before = fake.requests.length;
    const result = (await must(server, owner.token, TEST, { id: model.id })).testModel;
    expect(result).toMatchObject({ ok: true, latencyMs: 0, error: null, model: { id: model.id, name: model.name, health: null } });
    expect(Number.isNaN(Date.parse(result.testedAt))).toBe(false);
    expect(fake.requests.length).toBe(before);
  });

  it('calls a chat model once with its key, and says ok with the latency; its health stays the worker’s', async () => {
    fake.script({ deltas: ['pong'] });
    const model = await createModel(server, owner.token, {
      name: uniqueSlug('chat'),
      type: 'openai-compatible',
      config: { baseUrl: fake.baseUrl, model: 'sluice-test' },
      apiKey: API_KEY,
    });
    const before = fake.requests.length;
    const result = (await must(server, owner.token, TEST, { id: model.id })).testModel;
    expect(result).toMatchObject({ ok: true, error: null, model: { id: model.id, health: null } });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    const sent = fake.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent[0]!.body).toMatchObject({ model: 'sluice-test', max_tokens: 1, stream: false });
  });

  it('embeds one word with an embeddings model', async () => {
    const model = await createModel(server, owner.token, {
      name: uniqueSlug('embed'),
      type: 'openai-compatible-embeddings',
      config: { baseUrl: fake.baseUrl, model: 'sluice-embed' },
    });
    const before = fake.requests.length;
    const result = (await must(server, owner.token, TEST, { id: model.id })).testModel;
    expect(result).toMatchObject({ ok: true, error: null });
    expect(fake.requests.slice(before).map((request) => request.body.input)).toEqual([['ping']]);
  });

  it('says a redirect is one (REDIRECT, not "could not be reached"), for chat and embeddings, in one attempt', async () => {
    fake.script({ redirect: 'https://elsewhere.example/v1/chat/completions' });
    for (const type of ['openai-compatible', 'openai-compatible-embeddings']) {
      const model = await createModel(server, owner.token, { name: uniqueSlug('moved'), type, config: { baseUrl: fake.baseUrl, model: 'm' } });
      const before = fake.requests.length;
      const result = (await must(server, owner.token, TEST, { id: model.id })).testModel;
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^REDIRECT: The model server answered HTTP 301, a redirect to another address, which is not followed/) });
      // Not retried, and not followed: the one request went to the configured address.
      expect(fake.requests.length - before).toBe(1);
    }
    fake.script({ deltas: ['pong'] });
  });

  it('says why a model fails: a server that refuses the key (one attempt, no retries), a server that is not there', async () => {
    const refusing = await createModel(server, owner.token, { name: uniqueSlug('chat'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' } });
    fake.script({ failures: [{ status: 401 }], deltas: ['never'] });
    const before = fake.requests.length;
    const refused = (await must(server, owner.token, TEST, { id: refusing.id })).testModel;
    expect(refused).toMatchObject({ ok: false, latencyMs: null, error: 'HTTP_ERROR: The model server answered HTTP 401' });
    expect(fake.requests.length - before).toBe(1);
    fake.script({ deltas: ['pong'] });

    const port = await closedPort();
    const absent = await createModel(server, owner.token, { name: uniqueSlug('chat'), type: 'openai-compatible', config: { baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm' } });
    const unreachable = (await must(server, owner.token, TEST, { id: absent.id })).testModel;
    expect(unreachable).toMatchObject({ ok: false, latencyMs: null, error: 'NETWORK: The model server could not be reached', model: { health: null } });

    // Both on the audit trail: the outcome, the model, the reason; never the key.
    const events = await auditEventsOf(server, owner.token, 2, { action: 'model.test' }, 10_000, (event) => event.details.target.id === databaseIdOf(absent.id));
    const byModel = new Map(events.map((event) => [event.details.target.id, event]));
    expect(byModel.get(databaseIdOf(refusing.id))).toMatchObject({ outcome: 'UPSTREAM_ERROR', details: { type: 'openai-compatible', latencyMs: null, error: refused.error } });
    expect(byModel.get(databaseIdOf(absent.id))).toMatchObject({ outcome: 'UPSTREAM_ERROR', details: { error: unreachable.error } });
  });

  it('fails an embeddings model whose vectors are no longer of the length its datasets hold, as every semantic query over them would', async () => {
    // No `dimensions` configured: the server's first answer decided the stored length (16).
    fake.script({});
    const model = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'drifting' } });
    const unused = await createModel(server, owner.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'unused' } });
    const dataset = await createDataset(server, owner.token, { embeddingModelId: model.id });
    const ingest = await ingestInline(server, owner.token, dataset.id, [{ title: 'Weir', text: 'Water spills over the crest of the weir when the river is high.' }]);
    expect((await settled(server, owner.token, ingest.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    expect((await must(server, owner.token, TEST, { id: model.id })).testModel).toMatchObject({ ok: true, error: null });

    // The server now answers with 12 numbers a vector.
    fake.script({ embeddings: { dimension: 12 } });
    const drifted = (await must(server, owner.token, TEST, { id: model.id })).testModel;
    expect(drifted).toMatchObject({
      ok: false,
      latencyMs: null,
      error: "BAD_RESPONSE: The model server sent vectors of dimension 12 where the datasets' vectors by this model have 16: it no longer answers as the model they were embedded with",
    });
    // A model with no vectors stored yet has no length to keep: any answer is fine.
    expect((await must(server, owner.token, TEST, { id: unused.id })).testModel).toMatchObject({ ok: true, error: null });
    fake.script({ deltas: ['pong'] });
  });

  it('is audited when it succeeds too', async () => {
    const model = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    await must(server, owner.token, TEST, { id: model.id });
    const events = await auditEventsOf(server, owner.token, 1, { action: 'model.test' }, 10_000, (event) => event.details.target.id === databaseIdOf(model.id));
    expect(events.find((event) => event.details.target.id === databaseIdOf(model.id))).toMatchObject({ outcome: 'ok', details: { type: 'extractive', latencyMs: 0, error: null } });
  });

  it('needs ADMIN, and another tenant’s model does not exist', async () => {
    const model = await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' });
    const seeded = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }] });
    const memberToken = await server.tokenFor(seeded, seeded.users[1]!);
    const theirs = await createModel(server, await server.tokenFor(seeded, seeded.users[0]!), { name: uniqueSlug('extractive'), type: 'extractive' });
    const forbidden = await gql(server, memberToken, TEST, { id: theirs.id });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const foreign = await gql(server, owner.token, TEST, { id: theirs.id });
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const bad = await gql(server, owner.token, TEST, { id: 'not-an-id' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gql(server, memberToken, TEST, { id: model.id })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
