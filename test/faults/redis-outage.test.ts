/**
 * Redis going away while Sluice serves, and coming back. Redis only carries what can be kept
 * in-process for a while (rate-limit buckets, subscription events), so an outage must cost
 * sharing between processes, never service: requests are served under in-process limits, and
 * a client subscribed on the instance whose worker runs an ingestion still sees every step to
 * COMPLETED, delivered within the process. Both switches are logged. When Redis returns,
 * events travel through it again (a client of its own sees them on the job's channel).
 *
 * Subscribers re-read the database only every 10 minutes here, and the worker starts only
 * once the subscriber has its first (QUEUED) update: every later update was an event.
 *
 * Regression: before the event bus (src/platform/events/event-bus.ts) fell back to in-process delivery, progress published while
 * Redis was down was lost (the subscriber waited for its next re-read), and the SUBSCRIBE of a
 * subscription opened during the outage was rejected after ioredis's retries with nobody to
 * catch it: an unhandled rejection, which ends a `sluice serve` process.
 */
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { modelAccess, startWorker, type SluiceWorker } from '../../src/server/job-worker.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createDataset, ingestInline, PROGRESS_FIELDS, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ownRedis, redisServerAvailable, type OwnRedis } from '../limits/own-redis.js';

const EVENTS_DOWN = /^Redis is unavailable: subscription events/;
const EVENTS_BACK = /^Redis is reachable again: subscription events/;
const LIMITS_DOWN = /^Redis is unreachable: rate limits/;
const LIMITS_BACK = /^Redis is reachable again: rate limits/;
const DOCUMENTS = Array.from({ length: 12 }, (_, i) => ({ title: `doc-${i}`, text: `Paragraph ${i} of the outage corpus. `.repeat(200) }));

describe.skipIf(!redisServerAvailable)('Redis outage (needs redis-server)', () => {
  let redis: OwnRedis;
  let database: TestDatabase;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    redis = await ownRedis({ password: 'outage-test-password' });
    database = await createTestDatabase();
    server = await startTestServer({
      database,
      // The test runs the worker itself, on the server's bus, once a subscriber is listening.
      worker: false,
      env: { REDIS_URL: redis.url, SLUICE_RATE_LIMITS: 'on', SLUICE_PROGRESS_POLL_MS: '600000' },
    });
    ({ token } = await tenantWithOwner(server));
  }, 30_000);
  afterAll(async () => {
    await redis?.start();
    await server?.close();
    await redis?.stop();
    await database?.drop();
  });

  const logged = (pattern: RegExp) => server.logs.filter((line) => pattern.test(String(line.msg)));

  /** The worker `sluice serve` runs inline, on the server's own event bus. */
  const runWorker = (): Promise<SluiceWorker> =>
    startWorker({
      config: server.config.worker,
      progressIntervalMs: server.config.ingestion.progressIntervalMs,
      orm: server.orm,
      queueUrl: database.ownerUrl,
      progress: server.bus.progress,
      models: modelAccess(server.config),
      logger: createLogger({ level: 'silent' }),
    });

  /**
   * Starts a job with no worker running, subscribes to its progress, and only then starts a
   * worker: the updates after the first (QUEUED, read from the database) are events.
   */
  async function watchedIngestion(): Promise<{ updates: any[] }> {
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, DOCUMENTS);
    const jobId = body.data.ingestDocuments.id as string;
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    const updates: any[] = [];
    let listening!: () => void;
    const first = new Promise<void>((resolve) => (listening = resolve));
    const ended = new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: `subscription($id: ID!) { ingestionProgress(jobId: $id) { ${PROGRESS_FIELDS} } }`, variables: { id: jobId } },
        {
          next: (result) => {
            if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
            updates.push(result.data!.ingestionProgress);
            listening();
          },
          error: reject,
          complete: resolve,
        },
      );
    });
    await first;
    const worker = await runWorker();
    try {
      await ended;
    } finally {
      await client.dispose();
      await worker.stop();
    }
    return { updates };
  }

  const expectCompleteStream = (updates: any[]) => {
    expect(updates[0]).toMatchObject({ stage: 'QUEUED', documentsDone: 0 });
    expect(updates.map((update) => update.stage)).toEqual(expect.arrayContaining(['PARSING', 'CHUNKING', 'INDEXING', 'COMPLETED']));
    expect(updates.at(-1)).toMatchObject({ stage: 'COMPLETED', documentsDone: 12, documentsFailed: 0, percent: 100 });
    const indexes = updates.flatMap((update) => update.documents).map((outcome: any) => outcome.index);
    expect(indexes.sort((a: number, b: number) => a - b)).toEqual([...Array(12).keys()]);
  };

  it('keeps serving, limiting and delivering progress in-process while Redis is down, and says so', async () => {
    expect((await server.graphql('{ viewer { kind } }', { token })).body.data.viewer.kind).toBe('USER');
    expect(logged(EVENTS_DOWN)).toHaveLength(0);

    await redis.stop();
    const served = await Promise.all(Array.from({ length: 5 }, () => server.graphql('{ viewer { kind tenant { slug } } }', { token })));
    expect(served.map((response) => [response.status, response.body.data?.viewer?.kind])).toEqual(Array(5).fill([200, 'USER']));

    const { updates } = await watchedIngestion();
    expectCompleteStream(updates);

    // Each switch is logged once, however many requests and events went by meanwhile.
    expect(logged(EVENTS_DOWN).map((line) => line.level)).toEqual([40]);
    expect(logged(LIMITS_DOWN).map((line) => line.level)).toEqual([40]);
    expect(logged(EVENTS_BACK)).toHaveLength(0);
    expect(server.logs.some((line) => line.level >= 50)).toBe(false);
  }, 60_000);

  it('shares events and limits through Redis again once it is back', async () => {
    await redis.start();
    const deadline = Date.now() + 15_000;
    while ((logged(EVENTS_BACK).length === 0 || logged(LIMITS_BACK).length === 0) && Date.now() < deadline) {
      // A request lets the rate limiter probe Redis; the event bus notices by itself.
      await server.graphql('{ viewer { kind } }', { token });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(logged(EVENTS_BACK).map((line) => line.level)).toEqual([30]);
    expect(logged(LIMITS_BACK)).toHaveLength(1);

    // A client of the test's own on Redis sees what the server publishes there.
    const spy = new Redis(redis.url);
    const onChannel: { channel: string; sequence: number }[] = [];
    spy.on('pmessage', (_pattern, channel, message) => onChannel.push({ channel, sequence: JSON.parse(message).snapshot.sequence }));
    await spy.psubscribe('ingestion:job:*');
    try {
      const { updates } = await watchedIngestion();
      expectCompleteStream(updates);
      // Everything after the first update came through Redis: the spy saw each of those events
      // on the job's channel (the only job running).
      expect(new Set(onChannel.map((message) => message.channel)).size).toBe(1);
      expect(onChannel.map((message) => message.sequence)).toEqual(expect.arrayContaining(updates.slice(1).map((update) => update.sequence)));
    } finally {
      spy.disconnect();
    }
    expect(logged(EVENTS_DOWN)).toHaveLength(1);
  }, 60_000);
});
