/**
 * The Embeddings section of a dataset whose embedding stopped: its model server is down (a port
 * where nothing listens), so its ingestion job and the re-embed job after it both FAILED
 * (EMBEDDING_NETWORK). Until 2026-12 the section said "0 of 2 chunks (re-embedding…)" for as
 * long as the page was open and read the dataset again every second, with no job running: it
 * took "chunks without a vector" for "a job is embedding them". It now reads `inProgress` (a
 * job of the dataset queued or running) with the counts, says the embedding stopped, and stops
 * reading. In a real headless Chromium against the real server, worker and PostgreSQL.
 */
import { expect, it } from 'vitest';
import { findFreePort } from '../../src/db/free-port.js';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { openDatasetPage } from '../support/console-view.js';
import { createModel, must } from '../support/endpoints.js';
import { createDataset, ingestInline, settled } from '../support/ingestion.js';

/** The section's poll interval (dataset-embedding.tsx POLL_MS). */
const POLL_MS = 1000;

describeInBrowser('test/console/app-embedding-stopped', "the console's Embeddings section after the embedding failed", () => {
  const suite = consoleSuite({ server: { env: { SLUICE_MODEL_MAX_RETRIES: '1', SLUICE_MODEL_RETRY_BASE_MS: '10' } } });

  it('says the embedding stopped, not re-embedding, and stops reading the dataset', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Dyke Works' });
    const token = owner.accessToken;
    const down = `http://127.0.0.1:${await findFreePort()}/v1`;
    const model = await createModel(server, token, { name: 'Dyke vectors', type: 'openai-compatible-embeddings', config: { baseUrl: down, model: 'dyke', dimensions: 8 } });
    const dataset = await createDataset(server, token, { name: 'Dyke notes', embeddingModelId: model.id });
    const ingest = await ingestInline(server, token, dataset.id, [
      { title: 'Toe', text: 'Stones at the toe of the dyke break the waves before they reach it.' },
      { title: 'Crown', text: 'The crown of the dyke is grassed so that the roots hold the clay.' },
    ]);
    const ingestId = ingest.body.data.ingestDocuments.id as string;
    expect((await settled(server, token, ingestId)).stage).toBe('FAILED');
    const reembedId = (await must(server, token, 'mutation($id: ID!) { reembedDataset(datasetId: $id) { id } }', { id: dataset.id })).reembedDataset.id as string;
    expect((await settled(server, token, reembedId)).stage).toBe('FAILED');
    const state = (await must(server, token, 'query($id: ID!) { node(id: $id) { ... on Dataset { chunkCount embedding { embeddedChunks inProgress } } } }', { id: dataset.id })).node;
    expect(state.chunkCount).toBe(2);
    expect(state.embedding).toEqual({ embeddedChunks: 0, inProgress: false });

    const { page, blocked, problems } = await suite.signedIn(owner);
    const embeddingReads: string[] = [];
    page.on('request', (request) => {
      if (request.postData()?.includes('query ConsoleDatasetEmbedding')) embeddingReads.push(request.url());
    });
    await openDatasetPage(page, server.baseUrl, { slug: dataset.slug, name: 'Dyke notes' });
    for (const jobId of [ingestId, reembedId]) await page.locator(`.job-card[data-job-id="${jobId}"][data-status="FAILED"]`).waitFor();

    const embedded = page.locator('#dataset-embedding [data-field="embedded"]');
    await embedded.and(page.locator('[data-state="stopped"]')).waitFor();
    expect(await embedded.innerText()).toBe('0 of 2 chunks embedded; embedding stopped: see Jobs');
    // Nothing reads the dataset again: no request for its embedding within three poll
    // intervals (there is no event to await for a request that must not come).
    const readsShown = embeddingReads.length;
    const again = await page.waitForRequest((request) => request.postData()?.includes('query ConsoleDatasetEmbedding') ?? false, { timeout: 3 * POLL_MS }).then(
      () => true,
      () => false,
    );
    expect(again).toBe(false);
    expect(embeddingReads.length).toBe(readsShown);
    expect(await embedded.innerText()).toBe('0 of 2 chunks embedded; embedding stopped: see Jobs');

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
