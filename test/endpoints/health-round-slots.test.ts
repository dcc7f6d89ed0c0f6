/**
 * A health round takes no slot tenants' jobs need (security review, 2026-12): tenant A
 * published endpoints whose chat models sit at a server that accepts connections and never
 * answers, and has one ingestion job waiting at that server too. Before the fix the round ran
 * in the job pool: A's round held one of the worker's two slots for as long as its checks
 * hung, A's ingestion the other, and tenant B's one-document keyword job stayed QUEUED until
 * the round ended (12 minutes with 40 models). Now the round runs in a pool of its own, and B's
 * job completes while A's checks are still waiting.
 *
 * The model server is a test double for a third-party model server: a real HTTP server on
 * 127.0.0.1 that reads each request and never answers it (until the test closes it). Through
 * the real server, its inline worker (graphile-worker) and PostgreSQL; the round is queued
 * under its job key as the worker's own chain queues it. fake-openai, the healthy tenant's model
 * server in the second test, is the same kind of double that answers.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runHealthRound } from '../../src/domains/model-health/health-round.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { modelAccess } from '../../src/server/job-worker.js';
import { createModel, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, jobOf, tenantWithOwner } from '../support/ingestion.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HANGING_MODELS = 12;

/** A model server that takes every request and never answers. */
interface HangingServer {
  baseUrl: string;
  /** The paths of the requests it holds, in arrival order. */
  held: string[];
  close(): Promise<void>;
}

async function startHangingServer(): Promise<HangingServer> {
  const held: string[] = [];
  const sockets = new Set<Socket>();
  const http: Server = createServer((request: IncomingMessage) => {
    request.resume();
    held.push(request.url ?? '');
  });
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    held,
    async close() {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

let server: TestServer;
let hanging: HangingServer;
let utils: WorkerUtils;
let ownerSql: pg.Pool;
let answering: FakeOpenAI;

beforeAll(async () => {
  [hanging, answering] = await Promise.all([startHangingServer(), startFakeOpenAI()]);
  server = await startTestServer({
    env: {
      // Two slots (the default); rounds only when the test queues one.
      SLUICE_WORKER_CONCURRENCY: '2',
      SLUICE_WORKER_HEARTBEAT_MS: '300',
      SLUICE_HEALTH_INTERVAL_S: '3600',
      // Checks and A's embedding call wait far longer than the test: A's round is running throughout.
      SLUICE_MODEL_TIMEOUT_MS: '300000',
      SLUICE_HEALTH_TIMEOUT_MS: '300000',
      SLUICE_MODEL_MAX_RETRIES: '0',
    },
  });
  utils = await makeWorkerUtils({ connectionString: server.database.ownerUrl });
  ownerSql = new pg.Pool({ connectionString: server.database.ownerUrl, max: 2 });
});
afterAll(async () => {
  // Closing the double ends the held requests (NETWORK), so the round and A's job end too.
  await hanging?.close();
  await utils?.release();
  await ownerSql?.end();
  await server?.close();
  await answering?.close();
});

async function publishedEndpoint(token: string, baseUrl: string): Promise<{ modelId: string }> {
  const dataset = await createDataset(server, token);
  const model = await createModel(server, token, { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl, model: 'm' } });
  await must(server, token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }`, {
    input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: model.id, published: true },
  });
  return { modelId: model.id };
}

async function healthOfModels(token: string, ids: string[]): Promise<unknown[]> {
  const data = await must(server, token, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Model { health { status } } } }`, { ids });
  return data.nodes.map((node: { health: unknown }) => node.health);
}

const chatChecks = () => hanging.held.filter((path) => path.endsWith('/chat/completions')).length;

it("runs another tenant's ingestion job while one tenant's hanging models hold a health round", async () => {
  const [a, b] = [await tenantWithOwner(server), await tenantWithOwner(server)];

  // A's published endpoints, each with its own chat model at the hanging server.
  const dataset = await createDataset(server, a.token);
  const modelIds: string[] = [];
  for (let index = 0; index < HANGING_MODELS; index++) {
    const model = await createModel(server, a.token, { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: hanging.baseUrl, model: `m${index}` } });
    modelIds.push(model.id);
    await must(server, a.token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }`, {
      input: { name: `Docs ${index}`, slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: model.id, published: true },
    });
  }

  // A's slow ingestion: its embeddings call waits at the hanging server, holding one slot.
  const embeddings = await createModel(server, a.token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: hanging.baseUrl, model: 'e', dimensions: 8 } });
  const aDataset = await createDataset(server, a.token, { embeddingModelId: embeddings.id });
  const aIngest = await ingestInline(server, a.token, aDataset.id, [{ title: 'Harbour', text: 'Harbour notes: the tide rises twice a day.' }]);
  const aJobId = aIngest.body.data.ingestDocuments.id as string;
  await pollUntil(async () => hanging.held.filter((path) => path.endsWith('/embeddings')).length, (count) => count === 1, {
    failure: (count) => `A's ingestion did not reach the model server (${count} embeddings requests)`,
  });

  // A round now, queued under its key as the worker's chain does; A's checks reach the server and hang.
  await utils.addJob('model-health', {}, { jobKey: 'model-health', runAt: new Date() });
  await pollUntil(async () => chatChecks(), (count) => count >= 1, { timeoutMs: 20_000, failure: (count) => `the round's checks did not start (${count})` });

  // B's one-document keyword job: it must not wait for A's round.
  const bDataset = await createDataset(server, b.token);
  const { body } = await ingestInline(server, b.token, bDataset.id, [{ title: 'Weir', text: 'A weir holds water back across a river.' }]);
  const bJob = await pollUntil(() => jobOf(server, b.token, body.data.ingestDocuments.id), (job) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job?.stage), {
    timeoutMs: 20_000,
    intervalMs: 50,
    failure: (job) => `B's job did not end while A's health round ran: ${JSON.stringify(job)}`,
  });
  expect(bJob.stage).toBe('COMPLETED');

  // …while A's round is still running: its job is locked, no check has been answered and no
  // model of A's has a health yet (a round writes them when it ends).
  const round = await ownerSql.query<{ locked_at: Date | null }>(`select locked_at from graphile_worker.jobs where key = 'model-health'`);
  expect(round.rows).toHaveLength(1);
  expect(round.rows[0]!.locked_at).not.toBeNull();
  expect(chatChecks()).toBeGreaterThanOrEqual(1);
  expect(chatChecks()).toBeLessThan(HANGING_MODELS);
  expect(await healthOfModels(a.token, modelIds)).toEqual(modelIds.map(() => null));
  // And A's own ingestion still waits at the server: B did not get ahead by A's job ending.
  expect((await jobOf(server, a.token, aJobId)).stage).toBe('EMBEDDING');
}, 90_000);

it("inside a round, one tenant's hanging models do not delay another tenant's checks: tenants take turns, and each tenant's health is written when its own checks end", async () => {
  const [c, d] = [await tenantWithOwner(server), await tenantWithOwner(server)];
  const hangingIds: string[] = [];
  for (let index = 0; index < 6; index++) hangingIds.push((await publishedEndpoint(c.token, hanging.baseUrl)).modelId);
  const { modelId: healthyId } = await publishedEndpoint(d.token, answering.baseUrl);
  answering.script({ deltas: ['pong'] });

  const stop = new AbortController();
  const heldBefore = chatChecks();
  let ended = false;
  // C listed first: without turns its six checks would take every lane before D's one.
  const round = runHealthRound({
    orm: server.orm,
    models: modelAccess(server.config),
    settings: server.config.modelHealth,
    log: createLogger({ level: 'silent' }),
    signal: stop.signal,
    publishingTenants: async () => [c.tenant.id, d.tenant.id],
  }).finally(() => (ended = true));

  const [healthy] = await pollUntil(() => healthOfModels(d.token, [healthyId]), ([health]) => health !== null, {
    timeoutMs: 20_000,
    failure: (last) => `D's model was not checked while C's hung: ${JSON.stringify(last)}`,
  });
  expect(healthy).toEqual({ status: 'HEALTHY' });
  // C's checks are still waiting at the server, at most two at once (its share), and the round goes on.
  expect(ended).toBe(false);
  expect(chatChecks() - heldBefore).toBeGreaterThanOrEqual(1);
  expect(chatChecks() - heldBefore).toBeLessThanOrEqual(2);
  expect(await healthOfModels(c.token, hangingIds)).toEqual(hangingIds.map(() => null));

  stop.abort();
  await round;
}, 90_000);
