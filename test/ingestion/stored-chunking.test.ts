/**
 * A job keeps the chunking it was stored with: one stored before short ends were joined
 * (its options lack `joinShortEnd`) still leaves the short end a chunk of its own when a worker
 * runs it later; ingesting the same document again under today's default re-chunks it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createEventBus } from '../../src/platform/events/event-bus.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { modelAccess, startWorker } from '../../src/server/job-worker.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let held: TestServer;
beforeAll(async () => {
  held = await startTestServer({ worker: false });
});
afterAll(() => held?.close());

const owner = <T>(query: string, params: unknown[]) => withClient(held.database.ownerUrl, async (client) => (await client.query(query, params)).rows as T[]);

it('a job stored without joinShortEnd chunks as before; the same document ingested again is re-chunked', async () => {
  const { token } = await tenantWithOwner(held);
  const dataset = await createDataset(held, token);
  // 1,199 characters of words without sentence breaks: 995 and a rest of 203 under the default 1,000.
  const text = Array.from({ length: 200 }, (_, i) => `flow${i % 10}`).join(' ');
  const { body } = await ingestInline(held, token, dataset.id, [{ title: 'abstract', text }]);
  const jobId = body.data.ingestDocuments.id;
  // As a job stored before the option existed: its options have no joinShortEnd.
  const [stored] = await owner<{ options: any }>(`update ingestion_jobs set options = options #- '{chunking,joinShortEnd}' where id = $1 returning options`, [databaseIdOf(jobId)]);
  expect(stored!.options.chunking).toEqual({ unit: 'characters', size: 1000, overlap: 150 });

  const logger = createLogger({ level: 'silent' });
  const bus = await createEventBus({ redisUrl: undefined, logger });
  const worker = await startWorker({ config: held.config.worker, progressIntervalMs: 50, orm: held.orm, queueUrl: held.database.ownerUrl, progress: bus.progress, models: modelAccess(held.config), logger });
  try {
    expect((await settled(held, token, jobId)).stage).toBe('COMPLETED');
    const chunks = () => owner<{ length: number }>('select length(content) from chunks where dataset_id = $1 order by ordinal', [databaseIdOf(dataset.id)]);
    expect((await chunks()).map((row) => row.length)).toEqual([995, 203]);

    const again = await ingestInline(held, token, dataset.id, [{ title: 'abstract', text }]);
    const job = await settled(held, token, again.body.data.ingestDocuments.id);
    expect(job.documents.map((d: any) => [d.outcome, d.chunks])).toEqual([['REPLACED', 1]]);
    expect((await chunks()).map((row) => row.length)).toEqual([1199]);
  } finally {
    await worker.stop();
    await bus.close();
  }
});
