/** Datasets, ingestion and progress over the real API, for the ingestion tests. */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { seedTenant, type SeededTenant } from './seed.js';
import { afterAll, beforeAll, expect } from 'vitest';
import type { SluiceWorker } from '../../src/server/job-worker.js';
import { startLateWorker, startTestServer, type TestServer } from './server.js';
import { pollUntil } from './poll.js';
import { uniqueSlug } from './unique-names.js';

export const PROGRESS_FIELDS = `jobId stage documentsTotal documentsDone documentsFailed chunksDone bytesDone bytesProcessed bytesTotal percent etaSeconds error sequence
  documents { index name status outcome documents chunks error sequence }`;

export const JOB_FIELDS = `id stage attempts progress { ${PROGRESS_FIELDS} } dataset { id documentCount chunkCount bytes }`;

export interface Tenant {
  tenant: SeededTenant;
  token: string;
}

export async function tenantWithOwner(server: TestServer): Promise<Tenant> {
  const tenant = await seedTenant(server.database.ownerUrl);
  return { tenant, token: await server.tokenFor(tenant, tenant.users[0]!) };
}

export async function createDataset(server: TestServer, token: string, input: Record<string, unknown> = {}): Promise<{ id: string; slug: string }> {
  const slug = uniqueSlug('ds');
  const { body } = await server.graphql(`mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id slug } }`, {
    token,
    variables: { input: { name: 'Docs', slug, ...input } },
  });
  if (!body.data?.createDataset) throw new Error(`createDataset failed: ${JSON.stringify(body.errors)}`);
  return body.data.createDataset;
}

export interface InlineDocument {
  title: string;
  text: string;
  mimeType?: string;
  metadata?: Record<string, unknown>;
}

export function ingestInline(server: TestServer, token: string, datasetId: string, documents: InlineDocument[], options?: Record<string, unknown>) {
  return server.graphql(
    `mutation($datasetId: ID!, $documents: [InlineDocumentInput!], $options: IngestionOptionsInput) {
       ingestDocuments(datasetId: $datasetId, documents: $documents, options: $options) { ${JOB_FIELDS} } }`,
    { token, variables: { datasetId, documents, options } },
  );
}

export interface UploadFile {
  name: string;
  type?: string;
  content: string | Uint8Array;
}

/** A GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec). */
export async function ingestFiles(server: TestServer, token: string, datasetId: string, files: UploadFile[], options?: Record<string, unknown>, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: `mutation($datasetId: ID!, $files: [File!], $options: IngestionOptionsInput) {
        ingestDocuments(datasetId: $datasetId, files: $files, options: $options) { ${JOB_FIELDS} } }`,
      variables: { datasetId, files: files.map(() => null), options },
    }),
  );
  form.set('map', JSON.stringify(Object.fromEntries(files.map((_, index) => [String(index), [`variables.files.${index}`]]))));
  files.forEach((file, index) => form.set(String(index), new Blob([typeof file.content === 'string' ? file.content : Buffer.from(file.content)], { type: file.type ?? '' }), file.name));
  const response = await fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body: form });
  return { status: response.status, body: (await response.json()) as any };
}

export async function jobOf(server: TestServer, token: string, jobId: string) {
  const { body } = await server.graphql(`query($id: ID!) { ingestionJob(id: $id) { ${JOB_FIELDS} documents { index name status outcome documents chunks error } } }`, {
    token,
    variables: { id: jobId },
  });
  return body.data?.ingestionJob;
}

/** Polls until the job ends (tests that watch progress use the subscriptions instead). */
export async function settled(server: TestServer, token: string, jobId: string, timeoutMs = 30_000) {
  return pollUntil(() => jobOf(server, token, jobId), (job) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job?.stage), {
    timeoutMs,
    intervalMs: 50,
    failure: (job) => `job ${jobId} did not end: ${JSON.stringify(job)}`,
  });
}

/**
 * The "Lighthouse handbook" dataset with its two short documents, ingested to COMPLETED (several
 * console tests start from it); resolves to the dataset.
 */
export async function ingestedHandbook(server: TestServer, token: string): Promise<{ id: string; slug: string }> {
  const dataset = await createDataset(server, token, { name: 'Lighthouse handbook', slug: 'lighthouse-handbook' });
  const ingested = await ingestInline(server, token, dataset.id, [
    { title: 'Lamp care', text: 'The keeper winds the clockwork lamp every evening at dusk.' },
    { title: 'Fog signals', text: 'Fog horns sound when the harbour is blind with fog.' },
  ]);
  expect((await settled(server, token, ingested.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  return dataset;
}

/** Every event of `ingestionProgress` over graphql-ws until it completes (or errors). */
export function progressOverWebSocket(wsUrl: string, token: string, jobId: string, after?: number) {
  return watchProgress(wsUrl, token, jobId, after).all;
}

/**
 * A job's progress over graphql-ws as it comes: `first` resolves with the first result (the
 * server sends the job's state as soon as the subscription is set up), `all` with every result
 * once the server completes the stream or sends an error.
 */
export function watchProgress(wsUrl: string, token: string, jobId: string, after?: number): { first: Promise<any>; all: Promise<any[]> } {
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  let firstArrived!: (result: any) => void;
  const first = new Promise<any>((resolve) => (firstArrived = resolve));
  const all = (async () => {
    const results: any[] = [];
    try {
      for await (const result of client.iterate({
        query: `subscription($jobId: ID!, $after: Int) { ingestionProgress(jobId: $jobId, after: $after) { ${PROGRESS_FIELDS} } }`,
        variables: { jobId, after },
      })) {
        if (results.push(result) === 1) firstArrived(result);
        if (result.errors) break;
      }
    } finally {
      await client.dispose();
    }
    return results;
  })();
  // A stream that fails before its first result fails `first` too, rather than leaving it pending.
  all.then((results) => results.length === 0 && firstArrived(undefined), () => firstArrived(undefined));
  return { first, all };
}

/** Every event of a subscription over Server-Sent Events until the server completes it. */
export async function overSse(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  const events = text
    .split('\n\n')
    .map((block) => Object.fromEntries(block.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()])))
    .filter((event) => event.event === 'next')
    .map((event) => JSON.parse(event.data ?? 'null'));
  return { status: response.status, contentType: response.headers.get('content-type'), events, raw: text };
}

/** A test server for the file (or describe block) and one tenant with its owner's token, ready in each test. */
export function serverWithOwner(): { server: TestServer; owner: Tenant } {
  const state = {} as { server: TestServer; owner: Tenant };
  beforeAll(async () => {
    state.server = await startTestServer();
    state.owner = await tenantWithOwner(state.server);
  });
  afterAll(() => state.server?.close());
  return state;
}

/**
 * A server without a worker for the file, and a worker started on its event bus when the test
 * asks (once it listens, so no progress step passes before it: the progress tests), both
 * stopped after the file.
 */
export function serverForLateWorker(): { server: TestServer; startWorker(): Promise<SluiceWorker> } {
  let worker: SluiceWorker | undefined;
  const state = {
    server: undefined as unknown as TestServer,
    async startWorker() {
      worker ??= await startLateWorker(state.server);
      return worker;
    },
  };
  beforeAll(async () => {
    state.server = await startTestServer({ worker: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await state.server?.close();
  });
  return state;
}
