/**
 * The console's ingestion and documents operations (src/sdk/operations/console-ingest.graphql)
 * round-tripped through the SDK against the real server: files in (one that fails to parse),
 * the job followed over graphql-ws to COMPLETED_WITH_FAILURES, the history with the failure
 * named, documents searched by title, one deleted. In Node there is no XMLHttpRequest, so an
 * `onUploadProgress` callback is not called and the upload goes by fetch as usual (the browser
 * path is test/console/app-ingest.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as sdk from '../../src/sdk/index.js';
import { createClient, type SluiceClient } from '../../src/sdk/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SluiceClient;

beforeAll(async () => {
  server = await startTestServer();
  const email = `sdk-console-ingest-${Date.now()}@example.test`;
  const password = 'a long enough passphrase';
  await createClient({ url: server.url }).mutate(sdk.SignUpDocument, { input: { email, password, tenantName: 'SDK console ingest' } });
  owner = createClient({ url: server.url, credentials: { email, password }, webSocketImpl: WebSocket });
});
afterAll(async () => {
  await owner?.close();
  await server?.close();
});

describe('the console’s ingestion operations', () => {
  it('ingest files, follow the job, read the history, search and delete documents', async () => {
    const { createDataset } = await owner.mutate(sdk.CreateDatasetDocument, { input: { name: 'Console', slug: `console-${Date.now()}` } });
    const progressCalls: number[] = [];
    const files = [new File(['# Tides\n\nHigh water at noon.'], 'tides.md', { type: 'text/markdown' }), new File(['{"text": '], 'broken.json', { type: 'application/json' })];
    const watch = { onUploadProgress: (sent: number) => progressCalls.push(sent) };
    const { ingestDocuments } = await owner.mutate(sdk.ConsoleIngestFilesDocument, { datasetId: createDataset.id, files }, watch);
    expect(progressCalls).toEqual([]);
    expect(ingestDocuments.progress).toMatchObject({ documentsTotal: 2, bytesTotal: expect.any(Number) });

    const events = [];
    for await (const { ingestionProgress } of owner.subscribe(sdk.ConsoleJobProgressDocument, { jobId: ingestDocuments.id, after: 0 })) events.push(ingestionProgress);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ stage: 'COMPLETED', status: 'COMPLETED_WITH_FAILURES', documentsDone: 2, documentsFailed: 1, percent: 100, bytesPerSecond: null });
    expect(events.flatMap((event) => event.documents).map((input) => [input.name, input.status, input.reason])).toEqual(
      expect.arrayContaining([
        ['tides.md', 'DONE', null],
        ['broken.json', 'FAILED', 'PARSE_ERROR'],
      ]),
    );

    const { ingestionJobs } = await owner.query(sdk.ConsoleIngestionJobsDocument, { datasetId: createDataset.id, last: 10 });
    expect(ingestionJobs.edges.map(({ node }) => [node.id, node.progress.status, node.documents.filter((input) => input.status === 'FAILED').map((input) => input.name)])).toEqual([
      [ingestDocuments.id, 'COMPLETED_WITH_FAILURES', ['broken.json']],
    ]);
    expect(ingestionJobs.pageInfo.hasPreviousPage).toBe(false);

    const found = await owner.query(sdk.ConsoleDocumentsDocument, { slug: createDataset.slug, first: 10, titleContains: 'TIDE' });
    const documents = found.dataset!.documents.edges.map(({ node }) => node);
    expect(documents.map((document) => [document.title, document.sourceKey])).toEqual([['Tides', 'tides.md']]);
    const { deleteDocument } = await owner.mutate(sdk.DeleteDocumentDocument, { id: documents[0]!.id });
    expect(deleteDocument).toMatchObject({ id: documents[0]!.id, sourceKey: 'tides.md' });
    expect((await owner.query(sdk.ConsoleDocumentsDocument, { slug: createDataset.slug, first: 10 })).dataset!.documents.edges).toEqual([]);
  });
});
