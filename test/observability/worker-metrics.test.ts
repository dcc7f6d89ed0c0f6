/**
 * `sluice worker` alone exports its metrics (issue 22): a worker-only process has no API
 * listener, so the ingestion series it counts were lost. A real `sluice worker` child with
 * `--metrics-port 0` runs the jobs that an API server (this process, no worker of its own)
 * queues; its own /metrics holds the ingestion volume and the embedding calls, with the
 * values the API reports, and the API's /metrics holds none of them.
 */
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsListener } from '../../src/platform/telemetry/metrics-listener.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createModel, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { scrape, sumOf } from '../support/metrics.js';
import { sluiceEnv, spawnSluice, stop, type SluiceProcess } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCUMENTS = [
  { title: 'Lamp', text: 'The lamp is wound every evening at dusk by the keeper of the lighthouse.' },
  { title: 'Fog', text: 'In fog the horn sounds twice a minute until the keeper sees the far buoy.' },
];

/** Child processes start slowly on a loaded machine (tsx compiles as it loads): seconds each. */
const CHILD_TIMEOUT_MS = 120_000;

let api: TestServer;
let fake: FakeOpenAI;
let worker: SluiceProcess | undefined;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  api = await startTestServer({ worker: false });
});
afterAll(async () => {
  if (worker) await stop(worker);
  await api?.close();
  await fake?.close();
});

/** The ingestion and embedding series of a scrape. */
function ingestion(samples: Map<string, number>, modelId: string) {
  return {
    documents: sumOf(samples, 'sluice_ingestion_documents_total', { outcome: 'INDEXED' }),
    chunks: sumOf(samples, 'sluice_ingestion_chunks_total', { outcome: 'INDEXED' }),
    bytes: sumOf(samples, 'sluice_ingestion_bytes_total', { outcome: 'INDEXED' }),
    embeddingCalls: sumOf(samples, 'sluice_model_call_duration_seconds_count', { model_id: modelId, kind: 'embedding', outcome: 'ok' }),
    embeddingTokens: sumOf(samples, 'sluice_model_tokens_total', { model_id: modelId, kind: 'embedding', direction: 'prompt' }),
  };
}

describe('sluice worker --metrics-port', () => {
  it('serves the ingestion and embedding series of the jobs it ran, with the values the API reports', async () => {
    worker = spawnSluice(['worker', '--metrics-port', '0'], sluiceEnv(api.database, { LOG_LEVEL: 'info' }));
    const listening = await worker.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('the worker serves its metrics on'));
    const metricsUrl = String(listening.url);
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const baseUrl = metricsUrl.replace(/\/metrics$/, '');
    await worker.waitForLog((line) => line.msg === 'job worker started');

    // Two routes, GET only.
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${baseUrl}/graphql`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/metrics`, { method: 'POST' })).status).toBe(405);
    const at = { baseUrl } as TestServer;
    expect(ingestion(await scrape(at), 'none')).toEqual({ documents: 0, chunks: 0, bytes: 0, embeddingCalls: 0, embeddingTokens: 0 });

    // Ingested through the API, run by the worker, embedding with a model server that reports 7 tokens a request.
    const { token } = await tenantWithOwner(api);
    fake.script({ embeddings: { usage: { prompt_tokens: 7, total_tokens: 7 } } });
    const model = await createModel(api, token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'small', batchSize: 1 } });
    const dataset = await createDataset(api, token, { embeddingModelId: model.id });
    const { body } = await ingestInline(api, token, dataset.id, DOCUMENTS);
    expect((await settled(api, token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    const requests = fake.requests.length;
    expect(requests).toBeGreaterThanOrEqual(2);

    const { node } = await must(api, token, 'query($id: ID!) { node(id: $id) { ... on Dataset { documentCount chunkCount bytes } } }', { id: dataset.id });
    expect(node.documentCount).toBe(2);
    expect(ingestion(await scrape(at), databaseIdOf(model.id))).toEqual({
      documents: 2,
      chunks: node.chunkCount,
      bytes: node.bytes,
      embeddingCalls: requests,
      embeddingTokens: 7 * requests,
    });
    // The API process ran none of it.
    expect(ingestion(await scrape(api), databaseIdOf(model.id))).toEqual({ documents: 0, chunks: 0, bytes: 0, embeddingCalls: 0, embeddingTokens: 0 });

    // It stops cleanly, its listener with it.
    expect(await stop(worker)).toBe(0);
    await expect(fetch(`${baseUrl}/healthz`)).rejects.toThrow();
  }, CHILD_TIMEOUT_MS);

  it('refuses a bad --metrics-port, and --metrics-port on serve, as usage errors', async () => {
    const cases = [
      { args: ['worker', '--metrics-port', '70000'], says: '--metrics-port must be a port number from 0 to 65535' },
      { args: ['serve', '--metrics-port', '9464'], says: '--metrics-port is for `sluice worker` only' },
    ];
    const runs = cases.map(({ args }) => spawnSluice(args, sluiceEnv(api.database)));
    expect(await Promise.all(runs.map((run) => run.exit))).toEqual([2, 2]);
    runs.forEach((run, index) => expect(run.output()).toContain(cases[index]!.says));
  }, CHILD_TIMEOUT_MS);
});

describe('the metrics listener', () => {
  it('asks for the metrics token when one is set, and serves nothing without one where it must not', async () => {
    const registry = new Registry();
    const guarded = await startMetricsListener({ registry, port: 0, token: 'a-metrics-token-of-16+' });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-the-same' } })).status).toBe(401);
      const allowed = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer a-metrics-token-of-16+' } });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      // A token no page knows guards the scrape: a scraper may name the worker as it likes.
      expect((await getWithHost(guarded.url, '/metrics', 'worker.rebind.example', { authorization: 'Bearer a-metrics-token-of-16+' })).status).toBe(200);
    } finally {
      await guarded.close();
    }
    const closed = await startMetricsListener({ registry, port: 0, openWithoutToken: false });
    try {
      expect((await fetch(`${closed.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${closed.url}/healthz`)).status).toBe(200);
    } finally {
      await closed.close();
    }
  });

  it('serves an open scrape only to the hosts the API answers (DNS rebinding), its /healthz to any', async () => {
    const registry = new Registry();
    const open = await startMetricsListener({ registry, port: 0 });
    const named = await startMetricsListener({ registry, port: 0, allowedHosts: ['metrics.internal'] });
    try {
      const port = new URL(open.url).port;
      expect((await getWithHost(open.url, '/metrics', `worker.rebind.example:${port}`)).status).toBe(403);
      expect((await getWithHost(open.url, '/metrics', `worker.rebind.example:${port}`)).body).toContain('SLUICE_ALLOWED_HOSTS');
      expect((await getWithHost(open.url, '/metrics', `127.0.0.1:${port}`)).status).toBe(200);
      expect((await getWithHost(open.url, '/metrics', `localhost:${port}`)).status).toBe(200);
      expect((await getWithHost(open.url, '/healthz', 'worker.rebind.example')).status).toBe(200);
      expect((await getWithHost(named.url, '/metrics', 'metrics.internal')).status).toBe(200);
      expect((await getWithHost(named.url, '/metrics', 'worker.rebind.example')).status).toBe(403);
    } finally {
      await Promise.all([open.close(), named.close()]);
    }
  });
});

/** A GET of `url`'s listener with the Host header `host` (fetch would send the URL's). */
function getWithHost(url: string, path: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path, headers: { host, ...headers } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}
