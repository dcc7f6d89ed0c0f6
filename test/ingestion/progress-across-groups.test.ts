/**
 * Progress of a job whose inputs settle in several groups (item-groups.ts): the subscriber must
 * see honest bytes across the groups' commits: never back, never more for an input than it has
 * earned, the total only at the end, and every outcome once. The inputs here are far smaller
 * than those whose chunk writes are followed (writer.ts), so one not yet settled earns at most
 * its parsed and chunked shares. The next group is prepared, and settled beside it, while one
 * settles (item-groups.ts): a step saved just after a commit must not count the group's credit,
 * or its inputs' parsed share, beside the bytes that commit settled (a first version of the
 * overlap went a third past the ceiling that way, and another by the parsed share of a group,
 * on a busy machine).
 *
 * As in progress-inside-input.test.ts, the API runs without a worker; a worker publishing
 * every event at once (interval 0) starts only once the subscriber listens.
 */
import { expect, it } from 'vitest';
import { CHUNKED_SHARE, PARSED_SHARE } from '../../src/domains/ingestion/processed-bytes.js';
import { FOLLOWED_CHARS } from '../../src/domains/ingestion/writer.js';
import { createDataset, ingestFiles, serverForLateWorker, tenantWithOwner, watchProgress } from '../support/ingestion.js';

const suite = serverForLateWorker();

/** More inputs than one group takes (32): three groups. */
const FILES = 80;

function markdown(n: number): string {
  const sentence = `File ${n}: the lock keeper opens paddle ${n % 7} and the barge waits below weir ${n % 5}. `;
  return `# Log ${n}\n\n${Array.from({ length: 24 }, () => sentence.repeat(3)).join('\n\n')}`;
}

it('keeps progress honest across the commits of a job of several groups', { timeout: 120_000 }, async () => {
  const { token } = await tenantWithOwner(suite.server);
  const dataset = await createDataset(suite.server, token);
  const files = Array.from({ length: FILES }, (_, n) => ({ name: `log-${n}.md`, type: 'text/markdown', content: markdown(n) }));
  const { body } = await ingestFiles(suite.server, token, dataset.id, files, { chunkSize: 300, chunkOverlap: 50 });
  expect(body.errors).toBeUndefined();
  const jobId = body.data.ingestDocuments.id;

  const progress = watchProgress(suite.server.wsUrl, token, jobId);
  await progress.first;
  // Listening: now a worker may run the job.
  await suite.startWorker();
  const results = await progress.all;
  for (const result of results) expect(result.errors).toBeUndefined();
  const updates = results.map((result) => result.data.ingestionProgress);

  const total = files.reduce((sum, file) => sum + Buffer.byteLength(file.content), 0);
  expect(updates.at(-1)).toMatchObject({ stage: 'COMPLETED', documentsDone: FILES, bytesDone: total, bytesProcessed: total, bytesTotal: total, percent: 100 });
  const processed = updates.map((update) => update.bytesProcessed);
  expect(processed, `bytesProcessed: ${processed}`).toEqual([...processed].sort((a, b) => a - b));
  // Inputs settled in more than one commit: the groups, seen by the subscriber.
  const settledSteps = [...new Set(updates.map((update) => update.documentsDone))].filter((done) => done > 0 && done < FILES);
  expect(settledSteps.length, `documentsDone: ${updates.map((update) => update.documentsDone)}`).toBeGreaterThanOrEqual(2);

  expect(Math.max(...files.map((file) => file.content.length))).toBeLessThan(FOLLOWED_CHARS / 10);
  const unsettledShare = PARSED_SHARE + CHUNKED_SHARE;
  for (const update of updates) {
    expect(update.bytesDone).toBeLessThanOrEqual(update.bytesProcessed);
    if (update.documentsDone < FILES) expect(update.bytesProcessed).toBeLessThan(total);
    // What is not settled has earned at most its parsed and chunked shares (+ 1 per input: the shares are floats, the bytes whole).
    const ceiling = update.bytesDone + (total - update.bytesDone) * unsettledShare + FILES;
    expect(update.bytesProcessed, `at ${JSON.stringify(update)}`).toBeLessThanOrEqual(ceiling);
  }
});
