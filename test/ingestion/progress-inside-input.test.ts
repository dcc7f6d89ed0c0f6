/**
 * Progress inside one large input (issue 21): a job of a single 4 MB file used to go from 0 to
 * 100 % in one step, since bytes counted only when the input's transaction committed. Now the
 * subscriber sees the job's processed bytes move while that one input is parsed, chunked and
 * its chunks written: strictly between 0 and the total, never back, below the total until the
 * input is settled, ending at the total. Parsing and chunking earn at most their shares of the
 * input; a value above them before the input settles can only come from a step taken while its
 * chunks were written (one INSERT, inside the transaction that settles the input): the bar used
 * to hold still there, for most of the file's time.
 *
 * The API runs without a worker; the test subscribes, waits for the first (QUEUED) event, and
 * only then starts a worker on the API's event bus, so no step can pass before it listens. The
 * worker publishes every event at once (interval 0), as the console's browser test does.
 */
import { createClient } from 'graphql-ws';
import { expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHUNKED_SHARE, PARSED_SHARE, WRITTEN_SHARE } from '../../src/domains/ingestion/processed-bytes.js';
import { createDataset, ingestFiles, jobOf, serverForLateWorker, tenantWithOwner } from '../support/ingestion.js';

const suite = serverForLateWorker();

const FIELDS = 'stage documentsDone documentsTotal chunksDone bytesDone bytesProcessed bytesTotal percent sequence';

/** A Markdown file of about `bytes` bytes, in paragraphs that fit a chunk. */
function largeMarkdown(bytes: number): string {
  const paragraph = (n: number) => `Paragraph ${n}: the keeper trims the wick, winds the clockwork and logs the weather at every watch of the night. `.repeat(6);
  const parts = ['# The keeper’s log'];
  for (let n = 0, size = 0; size < bytes; n++) {
    parts.push(paragraph(n));
    size += parts.at(-1)!.length + 2;
  }
  return parts.join('\n\n');
}

it('moves the progress of a one-file job in steps while that file is parsed, chunked and written', { timeout: 120_000 }, async () => {
  const { token } = await tenantWithOwner(suite.server);
  const dataset = await createDataset(suite.server, token);
  const content = largeMarkdown(4 * 1024 * 1024);
  const { body } = await ingestFiles(suite.server, token, dataset.id, [{ name: 'log.md', type: 'text/markdown', content }]);
  const jobId = body.data.ingestDocuments.id;
  expect(body.data.ingestDocuments.progress).toMatchObject({ stage: 'QUEUED', bytesProcessed: 0, percent: 0 });

  const client = createClient({ url: suite.server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const updates: any[] = [];
  try {
    for await (const result of client.iterate({ query: `subscription($jobId: ID!) { ingestionProgress(jobId: $jobId) { ${FIELDS} } }`, variables: { jobId } })) {
      expect(result.errors).toBeUndefined();
      updates.push(result.data!.ingestionProgress);
      // Listening: now a worker may run the job.
      await suite.startWorker();
    }
  } finally {
    await client.dispose();
  }

  const total = Buffer.byteLength(content);
  const last = updates.at(-1);
  expect(last).toMatchObject({ stage: 'COMPLETED', documentsDone: 1, bytesDone: total, bytesProcessed: total, bytesTotal: total, percent: 100 });
  const processed = updates.map((update) => update.bytesProcessed);
  expect(processed, `bytesProcessed: ${processed}`).toEqual([...processed].sort((a, b) => a - b));
  const between = [...new Set(processed.filter((bytes) => bytes > 0 && bytes < total))];
  expect(between.length, `bytesProcessed: ${processed}`).toBeGreaterThanOrEqual(2);
  const percents = [...new Set(updates.map((update) => update.percent).filter((percent) => percent > 0 && percent < 100))];
  expect(percents.length, `percent: ${updates.map((update) => update.percent)}`).toBeGreaterThanOrEqual(2);
  for (const update of updates) {
    // Honest: settled bytes never exceed processed ones, and the total waits for the input's commit.
    expect(update.bytesDone).toBeLessThanOrEqual(update.bytesProcessed);
    if (update.documentsDone < update.documentsTotal) expect(update.bytesProcessed).toBeLessThan(total);
  }
  // Steps were seen while the input was worked on, before any of it was settled.
  expect(updates.filter((update) => update.bytesDone === 0 && update.bytesProcessed > 0).map((update) => update.stage)).toEqual(
    expect.arrayContaining(['CHUNKING']),
  );
  // Steps while its chunks were written: past what parsing and chunking earn, before it settled.
  const writing = updates.filter((update) => update.bytesDone === 0 && update.bytesProcessed > total * (PARSED_SHARE + CHUNKED_SHARE));
  expect(writing.length, `bytesProcessed: ${processed}`).toBeGreaterThanOrEqual(1);
  for (const update of writing) expect(update).toMatchObject({ stage: 'CHUNKING', documentsDone: 0, chunksDone: 0 });
  // The input's last share waits for the commit that settles it.
  // (+ 1: the shares are floats, the bytes whole.)
  expect(Math.max(...writing.map((update) => update.bytesProcessed))).toBeLessThan(total * (PARSED_SHARE + CHUNKED_SHARE + WRITTEN_SHARE) + 1);

  // The job, read afterwards, says the same.
  const job = await jobOf(suite.server, token, jobId);
  expect(job.progress).toMatchObject({ bytesDone: total, bytesTotal: total, percent: 100 });
});
