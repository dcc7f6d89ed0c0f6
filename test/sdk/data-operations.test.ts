/**
 * The SDK's data operations round-tripped against the real server: datasets and documents,
 * ingestion jobs and their progress (over graphql-ws and over the SSE fallback), models,
 * endpoints, asking them (plain and streamed), policies, usage and the decision log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as sdk from '../../src/sdk/index.js';
import { createClient, SluiceError, type SluiceClient } from '../../src/sdk/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const password = 'a long enough passphrase';
const stamp = Date.now();
let server: TestServer;
let owner: SluiceClient;
let tenantSlug: string;

async function signedUpClient(target: TestServer, label: string) {
  const email = `sdk-${label}-${stamp}@example.test`;
  const { signUp } = await createClient({ url: target.url }).mutate(sdk.SignUpDocument, { input: { email, password, tenantName: `SDK ${label}` } });
  return { slug: signUp.tenant!.slug, client: createClient({ url: target.url, credentials: { email, password }, webSocketImpl: WebSocket }) };
}

async function take<T>(results: AsyncIterableIterator<T>, until: (value: T) => boolean): Promise<T[]> {
  const seen: T[] = [];
  for await (const value of results) {
    seen.push(value);
    if (until(value)) break;
  }
  return seen;
}

const LOCKS = '# Locks\n\nThe lock keeper opens the sluice gates at dawn and closes them at dusk.\n';
let dataset: { id: string; slug: string };

beforeAll(async () => {
  server = await startTestServer();
  ({ slug: tenantSlug, client: owner } = await signedUpClient(server, 'data'));
});
afterAll(async () => {
  await owner?.close();
  await server?.close();
});

describe('datasets and ingestion', () => {
  it('creates, renames and lists datasets; ingests and follows the job to COMPLETED over graphql-ws', async () => {
    const { createDataset } = await owner.mutate(sdk.CreateDatasetDocument, { input: { name: 'Manuals', slug: `manuals-${stamp}` } });
    dataset = createDataset;
    const { updateDataset } = await owner.mutate(sdk.UpdateDatasetDocument, { id: dataset.id, input: { description: 'How the locks work' } });
    expect(updateDataset).toMatchObject({ name: 'Manuals', description: 'How the locks work', documentCount: 0 });
    const { datasets } = await owner.query(sdk.DatasetsDocument, { first: 10, nameContains: 'Manu' });
    expect(datasets.edges.map(({ node }) => node.id)).toEqual([dataset.id]);

    const file = new File([LOCKS], 'locks.md', { type: 'text/markdown' });
    const { ingestDocuments } = await owner.mutate(sdk.IngestDocumentsDocument, {
      datasetId: dataset.id,
      files: [file],
      documents: [{ title: 'Gates', text: 'Each gate has a paddle the keeper winds by hand.' }],
    });
    expect(ingestDocuments.documents.map((input) => input.name).sort()).toEqual(['Gates', 'locks.md']);
    const progress = await take(owner.subscribe(sdk.IngestionProgressDocument, { jobId: ingestDocuments.id }), (event) => event.ingestionProgress.stage === 'COMPLETED');
    expect(progress.at(-1)!.ingestionProgress).toMatchObject({ stage: 'COMPLETED', documentsTotal: 2, documentsDone: 2, percent: 100 });

    const { ingestionJob } = await owner.query(sdk.IngestionJobDocument, { id: ingestDocuments.id });
    expect(ingestionJob).toMatchObject({ stage: 'COMPLETED', dataset: { id: dataset.id }, progress: { documentsDone: 2 } });
    const { ingestionJobs } = await owner.query(sdk.IngestionJobsDocument, { datasetId: dataset.id, first: 5 });
    expect(ingestionJobs.edges.map(({ node }) => node.id)).toEqual([ingestDocuments.id]);
    const { dataset: read } = await owner.query(sdk.DatasetDocument, { slug: dataset.slug, first: 10 });
    expect(read).toMatchObject({ documentCount: 2, description: 'How the locks work' });
    expect(read!.documents.edges.map(({ node }) => node.title).sort()).toEqual(['Gates', 'Locks']);
    // A keyword-only dataset has nothing to re-embed: a typed error, not a job.
    await expect(owner.mutate(sdk.ReembedDatasetDocument, { datasetId: dataset.id })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('follows progress over Server-Sent Events when there is no WebSocket, and raises typed errors there too', async () => {
    const sse = createClient({ url: server.url, credentials: { email: `sdk-data-${stamp}@example.test`, password }, subscriptionTransport: 'sse' });
    const { ingestDocuments } = await sse.mutate(sdk.IngestDocumentsDocument, { datasetId: dataset.id, documents: [{ title: 'Weirs', text: 'A weir holds the river back.' }] });
    const progress = await take(sse.subscribe(sdk.IngestionProgressDocument, { jobId: ingestDocuments.id }), (event) => event.ingestionProgress.stage === 'COMPLETED');
    expect(progress.at(-1)!.ingestionProgress).toMatchObject({ stage: 'COMPLETED', documentsDone: 1 });
    const missing = Buffer.from('IngestionJob:00000000-0000-4000-8000-000000000000').toString('base64');
    const error = await take(sse.subscribe(sdk.IngestionProgressDocument, { jobId: missing }), () => true).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('follows the dataset itself: its settings now, then a change (no job starts)', async () => {
    const { createDataset } = await owner.mutate(sdk.CreateDatasetDocument, { input: { name: 'Weirs', slug: `weirs-${stamp}` } });
    const feed = owner.subscribe(sdk.DatasetChangesDocument, { datasetId: createDataset.id });
    try {
      expect((await feed.next()).value.datasetChanges).toMatchObject({ datasetId: createDataset.id, name: 'Weirs', embeddingModelId: null });
      await owner.mutate(sdk.UpdateDatasetDocument, { id: createDataset.id, input: { name: 'Weirs and sluices' } });
      expect((await feed.next()).value.datasetChanges).toMatchObject({ datasetId: createDataset.id, name: 'Weirs and sluices' });
    } finally {
      await feed.return?.();
    }
  });

  it('cancels a queued job, sees it on the dataset feed, and retries it', async () => {
    const queueOnly = await startTestServer({ worker: false });
    const { client } = await signedUpClient(queueOnly, 'queue');
    try {
      const { createDataset } = await client.mutate(sdk.CreateDatasetDocument, { input: { name: 'Queue', slug: `queue-${stamp}` } });
      const { ingestDocuments } = await client.mutate(sdk.IngestDocumentsDocument, { datasetId: createDataset.id, documents: [{ title: 'A', text: 'waiting' }] });
      const feed = client.subscribe(sdk.DatasetIngestionDocument, { datasetId: createDataset.id });
      // The feed starts with the dataset's unfinished jobs: the queued one.
      expect((await feed.next()).value.datasetIngestion).toMatchObject({ jobId: ingestDocuments.id, stage: 'QUEUED' });
      expect((await client.mutate(sdk.CancelIngestionDocument, { jobId: ingestDocuments.id })).cancelIngestion.stage).toBe('CANCELLED');
      const seen = await take(feed, (event) => event.datasetIngestion.stage === 'CANCELLED');
      expect(seen.at(-1)!.datasetIngestion.jobId).toBe(ingestDocuments.id);
      const { retryIngestion } = await client.mutate(sdk.RetryIngestionDocument, { jobId: ingestDocuments.id });
      expect(retryIngestion).toMatchObject({ id: ingestDocuments.id, stage: 'QUEUED' });
    } finally {
      await client.close();
      await queueOnly.close();
    }
  });
});

describe('models, endpoints and policies', () => {
  it('creates a model and an endpoint, asks it plainly and streamed, and deletes them', async () => {
    const { modelTypes } = await owner.query(sdk.ModelTypesDocument);
    expect(modelTypes.map((type) => type.name)).toEqual(expect.arrayContaining(['extractive', 'openai-compatible']));
    const { createModel } = await owner.mutate(sdk.CreateModelDocument, { input: { name: 'Extract', type: 'extractive' } });
    const { updateModel } = await owner.mutate(sdk.UpdateModelDocument, { id: createModel.id, input: { name: 'Extract 2' } });
    expect(updateModel).toMatchObject({ name: 'Extract 2', type: 'extractive', apiKeySet: false });
    expect((await owner.query(sdk.ModelsDocument, { first: 10 })).models.edges.map(({ node }) => node.id)).toContain(createModel.id);

    const { createEndpoint } = await owner.mutate(sdk.CreateEndpointDocument, {
      input: { name: 'Locks', slug: `locks-${stamp}`, modelId: createModel.id, datasetIds: [dataset.id], published: true },
    });
    expect(createEndpoint).toMatchObject({ reference: `${tenantSlug}/locks-${stamp}`, model: { id: createModel.id }, datasets: [{ id: dataset.id }] });
    const { updateEndpoint } = await owner.mutate(sdk.UpdateEndpointDocument, { id: createEndpoint.id, input: { description: 'Ask about locks', retrieval: { topK: 3 }, listed: true } });
    expect(updateEndpoint).toMatchObject({ description: 'Ask about locks', retrieval: { topK: 3 }, listed: true });
    // Listed: in the catalog, which a client with no credential may browse.
    const { catalog } = await createClient({ url: server.url }).query(sdk.CatalogDocument, { search: `locks-${stamp}`, first: 5 });
    const { documentCount } = (await owner.query(sdk.DatasetDocument, { id: dataset.id }))!.dataset!;
    expect(catalog.edges.map(({ node }) => node)).toEqual([
      expect.objectContaining({ address: createEndpoint.reference, description: 'Ask about locks', modelKind: 'extractive', datasets: expect.objectContaining({ documentCount }) }),
    ]);
    expect((await owner.query(sdk.EndpointsDocument, { first: 10 })).endpoints.edges.map(({ node }) => node.slug)).toEqual([`locks-${stamp}`]);
    expect((await owner.query(sdk.EndpointDocument, { slug: `locks-${stamp}` })).endpoint?.id).toBe(createEndpoint.id);

    const { queryEndpoint } = await owner.query(sdk.QueryEndpointDocument, { endpoint: createEndpoint.reference, query: 'lock keeper' });
    expect(queryEndpoint.passages[0]!.documentTitle).toBe('Locks');
    expect(queryEndpoint.answer).toContain('lock keeper');
    const streamed = await take(owner.subscribe(sdk.EndpointQueryDocument, { endpoint: createEndpoint.reference, query: 'lock keeper' }), (event) =>
      ['EndpointQueryCompleted', 'EndpointQueryFailed'].includes(event.endpointQuery.__typename),
    );
    const kinds = streamed.map((event) => event.endpointQuery.__typename);
    expect(kinds[0]).toBe('EndpointQueryRetrieved');
    expect(kinds.at(-1)).toBe('EndpointQueryCompleted');

    await policiesOf(createEndpoint.id, createEndpoint.reference);

    expect((await owner.mutate(sdk.DeleteEndpointDocument, { id: createEndpoint.id })).deleteEndpoint.id).toBe(createEndpoint.id);
    expect((await owner.mutate(sdk.DeleteModelDocument, { id: createModel.id })).deleteModel.id).toBe(createModel.id);
    expect((await owner.mutate(sdk.DeleteDatasetDocument, { id: dataset.id })).deleteDataset.id).toBe(dataset.id);
    expect((await owner.query(sdk.DatasetDocument, { id: dataset.id })).dataset).toBeNull();
  });
});

/** Policies on the endpoint: an access list, a rate limit (an allowance), usage and decisions. */
async function policiesOf(endpointId: string, reference: string) {
  const { policyTypes } = await owner.query(sdk.PolicyTypesDocument);
  expect(policyTypes.map((type) => type.name)).toEqual(expect.arrayContaining(['access', 'rate_limit', 'content_guard']));
  const { createPolicy: access } = await owner.mutate(sdk.CreatePolicyDocument, { input: { endpointId, type: 'access', configuration: { mode: 'allow', patterns: ['*@example.test'] } } });
  const { createPolicy: limit } = await owner.mutate(sdk.CreatePolicyDocument, { input: { endpointId, type: 'rate_limit', configuration: { requestsPerPeriod: 100, periodSeconds: 3600 } } });
  expect((await owner.query(sdk.QueryEndpointDocument, { endpoint: reference, query: 'gates' })).queryEndpoint.passages.length).toBeGreaterThan(0);

  const { myUsage } = await owner.query(sdk.MyUsageDocument, { endpoint: reference });
  expect(myUsage.allowances).toEqual([expect.objectContaining({ policyId: limit.id, limit: 100, used: 1, remaining: 99 })]);
  const { usage } = await owner.query(sdk.UsageDocument, { groupBy: 'ENDPOINT' });
  expect(usage.find((row) => row.key.includes(reference.split('/')[1]!))?.queries).toBe(3);
  const { policyDecisions } = await owner.query(sdk.PolicyDecisionsDocument, { first: 10, filter: { endpointId } });
  expect(policyDecisions.edges[0]!.node).toMatchObject({ decision: 'ALLOW', endpointId });

  const { updatePolicy } = await owner.mutate(sdk.UpdatePolicyDocument, { id: access.id, input: { enabled: false } });
  expect(updatePolicy).toMatchObject({ enabled: false, endpoint: { id: endpointId } });
  expect((await owner.mutate(sdk.DeletePolicyDocument, { id: access.id })).deletePolicy.id).toBe(access.id);
}
