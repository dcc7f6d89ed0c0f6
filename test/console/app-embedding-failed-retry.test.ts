/**
 * The card of an ingestion job that failed in its EMBEDDING stage (its model server answered
 * HTTP 500), in the console's Jobs panel, in a real headless Chromium against the real server,
 * worker and PostgreSQL. Its inputs were all indexed, so "Retry failed inputs" (retryIngestion)
 * had nothing to run and failed with "Nothing to retry"; the card now offers "Retry: embed the
 * chunks left" (reembedDataset), whose new job's card completes with every chunk embedded.
 * A job that failed there with a failed input too is retried as any other ("Retry failed
 * inputs": the input runs again, then the EMBEDDING stage embeds the chunks left); until
 * 2026-12-05 its card offered only the re-embed, which left the input failed.
 *
 * The embeddings server is fake-openai (test/support/fake-openai.ts): a test double for a
 * third-party model server, a real HTTP server on 127.0.0.1 speaking the real OpenAI
 * `/v1/embeddings` protocol.
 */
import { expect, it } from 'vitest';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { createModel, must } from '../support/endpoints.js';
import { createDataset, ingestFiles, ingestInline, settled } from '../support/ingestion.js';

describeInBrowser('test/console/app-embedding-failed-retry', "the console's card of a job whose EMBEDDING stage failed", () => {
  const suite = consoleSuite({ fakeOpenAIs: 1, server: { env: { SLUICE_MODEL_MAX_RETRIES: '1', SLUICE_MODEL_RETRY_BASE_MS: '10' } } });

  it('offers to embed the chunks left, not to retry failed inputs, and that job embeds them', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    const owner = await suite.signUp({ tenantName: 'Weir Works' });
    const token = owner.accessToken;
    const model = await createModel(server, token, { name: 'Weir vectors', type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'weir', dimensions: 8 } });
    const dataset = await createDataset(server, token, { name: 'Weir notes', embeddingModelId: model.id });
    fake.script({ failures: [{ status: 500 }, { status: 500 }] });
    const ingest = await ingestInline(server, token, dataset.id, [
      { title: 'Crest', text: 'Water spills over the crest of the weir when the river is high.' },
      { title: 'Sluice', text: 'The sluice gate beside the weir lets the keeper lower the river.' },
    ]);
    const jobId = ingest.body.data.ingestDocuments.id as string;
    expect((await settled(server, token, jobId)).stage).toBe('FAILED');
    fake.script({});

    const { page, blocked, problems } = await suite.signedIn(owner);
    await page.goto(`${server.baseUrl}/console/datasets/${dataset.slug}`);
    const failed = page.locator(`.job-card[data-job-id="${jobId}"]`);
    await failed.and(page.locator('[data-status="FAILED"]')).waitFor();
    expect(await failed.getByRole('button', { name: 'Retry failed inputs' }).count()).toBe(0);
    await failed.getByRole('button', { name: 'Retry: embed the chunks left' }).click();

    const reembed = page.locator('.job-card').filter({ has: page.getByRole('heading', { name: 'Re-embedding the chunks' }) });
    await reembed.and(page.locator('[data-status="COMPLETED"]')).waitFor({ timeout: 60_000 });
    expect(await page.locator('.alert-danger').count()).toBe(0);
    const state = (await must(server, token, 'query($id: ID!) { node(id: $id) { ... on Dataset { chunkCount embedding { servingModel { id } embeddedChunks } } } }', { id: dataset.id })).node;
    expect(state.embedding).toEqual({ servingModel: { id: model.id }, embeddedChunks: state.chunkCount });

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });

  it('offers to retry the failed inputs of a job that also failed in EMBEDDING, and the retry embeds the chunks', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    const owner = await suite.signUp({ tenantName: 'Lock Works' });
    const token = owner.accessToken;
    const model = await createModel(server, token, { name: 'Lock vectors', type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'lock', dimensions: 8 } });
    const dataset = await createDataset(server, token, { name: 'Lock notes', embeddingModelId: model.id });
    fake.script({ failures: [{ status: 500 }, { status: 500 }] });
    const ingest = await ingestFiles(server, token, dataset.id, [
      { name: 'chamber.txt', content: 'The lock chamber fills through the paddles in the upper gates.' },
      // JSON cut short: fails to parse, so the job has a failed input.
      { name: 'gates.json', type: 'application/json', content: '{"title": "Gates", "text": "The upper' },
    ]);
    expect(ingest.body.errors).toBeUndefined();
    const jobId = ingest.body.data.ingestDocuments.id as string;
    const ended = await settled(server, token, jobId);
    expect(ended.stage).toBe('FAILED');
    expect(ended.progress.documentsFailed).toBe(1);
    const failedIn = (await must(server, token, 'query($id: ID!) { ingestionJob(id: $id) { progress { errorReason } } }', { id: jobId })).ingestionJob.progress;
    expect(failedIn.errorReason).toMatch(/^EMBEDDING_/);
    fake.script({});

    const { page, blocked, problems } = await suite.signedIn(owner);
    await page.goto(`${server.baseUrl}/console/datasets/${dataset.slug}`);
    const card = page.locator(`.job-card[data-job-id="${jobId}"]`);
    await card.and(page.locator('[data-status="FAILED"]')).waitFor();
    expect(await card.getByRole('button', { name: 'Retry: embed the chunks left' }).count()).toBe(0);
    await card.getByRole('button', { name: 'Retry failed inputs' }).click();

    // The same job runs again: the JSON fails again, and its EMBEDDING stage embeds the text's chunks.
    await card.and(page.locator('[data-status="COMPLETED_WITH_FAILURES"]')).waitFor({ timeout: 60_000 });
    expect(await page.locator('.alert-danger').count()).toBe(0);
    const state = (await must(server, token, 'query($id: ID!) { node(id: $id) { ... on Dataset { chunkCount embedding { servingModel { id } embeddedChunks } } } }', { id: dataset.id })).node;
    expect(state.chunkCount).toBeGreaterThan(0);
    expect(state.embedding).toEqual({ servingModel: { id: model.id }, embeddedChunks: state.chunkCount });

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
