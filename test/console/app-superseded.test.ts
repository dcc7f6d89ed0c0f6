/**
 * A re-embed job overtaken by a second change of the dataset's embeddings model, as the
 * console's Jobs panel shows it, in a real headless Chromium against the real server, worker
 * and PostgreSQL: the overtaken job's card says Cancelled with the reason, not as a failure,
 * and offers no retry (the job the second change queued embeds the chunks); that job's card
 * shows it completed.
 *
 * The embeddings server is fake-openai (test/support/fake-openai.ts): a test double for a
 * third-party model server, a real HTTP server on 127.0.0.1 speaking the real OpenAI
 * `/v1/embeddings` protocol.
 */
import { expect, it } from 'vitest';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { createModel, must } from '../support/endpoints.js';
import { createDataset, ingestInline, settled } from '../support/ingestion.js';

describeInBrowser('test/console/app-superseded', "the console's card of a superseded re-embed job", () => {
  const suite = consoleSuite({ fakeOpenAIs: 1 });

  it('shows the overtaken re-embed job cancelled as superseded, without a retry', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    const owner = await suite.signUp({ tenantName: 'Canal Works' });
    const token = owner.accessToken;
    const model = (name: string, dimensions: number) =>
      createModel(server, token, { name, type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: name, dimensions } });
    const [first, second, third] = [await model('First vectors', 16), await model('Second vectors', 8), await model('Third vectors', 12)];
    const dataset = await createDataset(server, token, { name: 'Lock keeping', embeddingModelId: first.id });
    const job = await ingestInline(server, token, dataset.id, [
      { title: 'Gates', text: 'The keeper opens the upper gates when the chamber is full.' },
      { title: 'Paddles', text: 'Paddles let water in and out of the lock chamber slowly.' },
    ]);
    expect((await settled(server, token, job.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    const changeModel = (id: string) => must(server, token, 'mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }', { id: dataset.id, input: { embeddingModelId: id } });
    const jobs = async () =>
      (await must(server, token, 'query($id: ID!) { ingestionJobs(datasetId: $id, last: 3) { edges { node { id progress { kind status errorReason } } } } }', { id: dataset.id })).ingestionJobs.edges.map(
        (edge: any) => edge.node,
      );

    // The first re-embed job's batch is held at the model server while the model changes again.
    let release!: () => void;
    fake.script({ embeddings: { until: new Promise<void>((resolve) => (release = resolve)) } });
    const asked = fake.requests.length;
    await changeModel(second.id);
    await fake.requestsReached(asked + 1);
    await changeModel(third.id);
    fake.script({});
    release();
    const [, overtaken, next] = await jobs();
    await settled(server, token, overtaken.id);
    await settled(server, token, next.id);
    expect((await jobs()).slice(1).map((node: any) => node.progress)).toEqual([
      { kind: 'REEMBED', status: 'CANCELLED', errorReason: 'SUPERSEDED' },
      { kind: 'REEMBED', status: 'COMPLETED', errorReason: null },
    ]);

    const { page, blocked, problems } = await suite.signedIn(owner);
    await page.goto(`${server.baseUrl}/console/datasets/${dataset.slug}`);
    const reembedCards = page.locator('.job-card').filter({ has: page.getByRole('heading', { name: 'Re-embedding the chunks' }) });
    const cancelled = reembedCards.and(page.locator('[data-status="CANCELLED"]'));
    await cancelled.waitFor();
    await reembedCards.and(page.locator('[data-status="COMPLETED"]')).waitFor();
    const reason = cancelled.locator('.job-error');
    expect(await reason.innerText()).toMatch(/^Superseded: the dataset's embedding model changed while this job ran/);
    // Said as what happened, not as a failure; and nothing to retry: the next job did the work.
    expect(await reason.getAttribute('class')).not.toContain('text-danger');
    expect(await cancelled.getByRole('button').count()).toBe(0);

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
