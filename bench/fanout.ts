/**
 * Subscription fan-out: N graphql-ws subscribers (BENCH_FANOUT, default 100 and 1000), spread
 * over 10 tenants, each watching its tenant's dataset (`datasetIngestion`) while one
 * ingestion job per tenant runs. Reported per N: events delivered, lost events (a
 * subscriber missing a sequence its tenant's other subscribers saw), cross-tenant
 * deliveries (must be 0), the spread between the first and the last subscriber receiving
 * the same event, publish-to-receive latency, and the server's peak memory.
 *
 * Publish-to-receive: the events carry no send time, and the worker that publishes them runs
 * inside the server. So the server runs with Redis (a private redis-server, or REDIS_URL)
 * and this process subscribes to the same channels the server listens on: Redis hands each
 * event to both at the same moment, so the time this "witness" connection receives it, on
 * the clock the subscribers' receipts are taken with, stands for the publish (it leaves out
 * the worker → Redis hop, well under a millisecond on loopback, and adds none of the server's
 * work). Every subscriber's receipt of that (dataset, sequence) minus the witness's is one
 * sample. The subscribers live in this process too: their own event-loop time is included,
 * as in the spread. BENCH_FANOUT_REDIS=off runs in-process events and reports no latency.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { startTestRedis, type TestRedis } from '../test/support/redis.js';
import { appendReport, fixed, percentile, table } from './support/report.js';
import { graphql, openBenchDatabase, RAISED_LIMITS, startBenchServer, type BenchServer } from './support/sluice.js';

const TENANTS = 10;

interface Received {
  tenant: number;
  /** The job the event was about, as the server sent it. */
  jobId: string;
  sequence: number;
  at: number;
}

export async function fanoutBenchmark(command: string): Promise<void> {
  const sizes = (process.env.BENCH_FANOUT ?? '100,1000').split(',').map(Number);
  const redis: TestRedis | undefined = process.env.BENCH_FANOUT_REDIS === 'off' ? undefined : await startTestRedis();
  const database = await openBenchDatabase();
  const server = await startBenchServer(database, {
    ...RAISED_LIMITS,
    // Events only as pushed: a quiet subscriber's own re-read would blur the measurement.
    SLUICE_PROGRESS_POLL_MS: '600000',
    SLUICE_MAX_BODY_BYTES: '8388608',
    ...(redis ? { REDIS_URL: redis.url } : {}),
  });
  // When each (dataset, sequence) was published, as seen by a Redis connection of our own.
  const published = new Map<string, number>();
  const witness = redis ? new Redis(redis.url) : undefined;
  witness?.on('pmessage', (_pattern, _channel, message) => {
    const at = performance.now();
    const { snapshot } = JSON.parse(message) as { snapshot: { datasetId: string; sequence: number } };
    published.set(`${snapshot.datasetId}/${snapshot.sequence}`, at);
  });
  await witness?.psubscribe('ingestion:dataset:*');
  const rows: (string | number)[][] = [];
  try {
    const tenants = await Promise.all(Array.from({ length: TENANTS }, (_, index) => tenant(server.url, index)));
    const wsUrl = server.url.replace(/^http/, 'ws');
    for (const size of sizes) {
      const received: Received[] = [];
      const clients: Client[] = [];
      const datasets = await Promise.all(
        tenants.map(async ({ token }, index) => {
          const { createDataset } = await graphql(server.url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: `Fanout ${size}`, slug: `fanout-${size}-${index}` } }, token);
          return createDataset.id as string;
        }),
      );
      // Relay ids are base64("Dataset:<uuid>"); the events name the uuid.
      const uuids = datasets.map((id) => Buffer.from(id, 'base64').toString('utf8').split(':')[1]!);
      let subscribed = 0;
      let completed = 0;
      await new Promise<void>((ready) => {
        for (let i = 0; i < size; i += 1) {
          const index = i % TENANTS;
          const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${tenants[index]!.token}` } });
          clients.push(client);
          client.subscribe(
            { query: 'subscription($id: ID!) { datasetIngestion(datasetId: $id) { jobId sequence stage } }', variables: { id: datasets[index]! } },
            {
              next: (result) => {
                const event = result.data?.datasetIngestion as { jobId: string; sequence: number; stage: string } | undefined;
                if (event) received.push({ tenant: index, jobId: event.jobId, sequence: event.sequence, at: performance.now() });
                if (event?.stage === 'COMPLETED') completed += 1;
              },
              error: () => undefined,
              complete: () => undefined,
            },
          );
          client.on('connected', () => ++subscribed === size && ready());
        }
      });
      // Subscriptions register after connecting: the jobs start once the server counts them
      // all (a late one would miss the first events and count them as lost), and a moment for
      // the server's Redis SUBSCRIBEs to be acknowledged.
      await subscriptionsActive(server, size);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const documents = Array.from({ length: 30 }, (_, i) => ({ title: `doc-${i}`, text: `Paragraph ${i} of the fan-out corpus. `.repeat(400) }));
      const jobs = await Promise.all(
        tenants.map(async ({ token }, index) => {
          const { ingestDocuments } = await graphql(server.url, 'mutation($d: ID!, $docs: [InlineDocumentInput!]) { ingestDocuments(datasetId: $d, documents: $docs) { id } }', { d: datasets[index]!, docs: documents }, token);
          return ingestDocuments.id as string;
        }),
      );
      // Until every tenant's stream has shown COMPLETED to its subscribers (or 120 s).
      const deadline = Date.now() + 120_000;
      const perTenant = size / TENANTS;
      while (Date.now() < deadline) {
        if (await allCompleted(server.url, tenants, datasets)) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      // Then until every subscriber has received COMPLETED (or 15 s): what has not by then is lost.
      const drained = Date.now() + 15_000;
      while (completed < size && Date.now() < drained) await new Promise((resolve) => setTimeout(resolve, 100));
      await Promise.all(clients.map((client) => client.dispose()));

      // Per (tenant, sequence): who got it, how spread out.
      const byEvent = new Map<string, number[]>();
      for (const event of received) byEvent.set(`${event.tenant}/${event.sequence}`, [...(byEvent.get(`${event.tenant}/${event.sequence}`) ?? []), event.at]);
      const spreads = [...byEvent.values()].map((times) => Math.max(...times) - Math.min(...times)).sort((a, b) => a - b);
      const lost = [...byEvent.values()].reduce((sum, times) => sum + (perTenant - times.length), 0);
      // An event about any job but the one its subscriber's tenant started came from elsewhere.
      const crossTenant = received.filter((event) => event.jobId !== jobs[event.tenant]).length;
      const latencies = received
        .map((event) => event.at - (published.get(`${uuids[event.tenant]}/${event.sequence}`) ?? Number.NaN))
        .filter((latency) => !Number.isNaN(latency))
        .sort((a, b) => a - b);
      const latency = (p: number) => (redis ? fixed(percentile(latencies, p)) : 'n/a');
      rows.push([size, received.length, byEvent.size, lost, crossTenant, fixed(percentile(spreads, 50)), fixed(percentile(spreads, 99)), latency(50), latency(99), fixed((await server.peakRss()) / 1024 / 1024, 0)]);
      console.log(`N=${size}: ${received.length} deliveries of ${byEvent.size} events, lost ${lost}, cross-tenant ${crossTenant}, spread p50 ${fixed(percentile(spreads, 50))} ms p99 ${fixed(percentile(spreads, 99))} ms, publish-to-receive p50 ${latency(50)} ms p99 ${latency(99)} ms (${latencies.length} samples)`);
    }
    const body = [
      `Subscription fan-out: N graphql-ws subscribers over ${TENANTS} tenants, each on its tenant's \`datasetIngestion\`, while one job of 30 documents per tenant runs (progress throttled to ~10 events/s per job), one \`sluice serve\` with its inline worker, ${redis ? 'events through Redis (the server subscribed to its own publishes, as with several API processes)' : 'in-process events (no Redis)'}. "Lost": deliveries missing against the tenant's other subscribers; "cross-tenant": events naming a job other than the one the subscriber's tenant started; "spread": first to last subscriber receiving the same event; "publish → receive": from the moment Redis hands the event out (seen by a Redis connection of the benchmark's own, see bench/fanout.ts) to a subscriber's receipt, over every delivery. The subscribers run in the benchmark's process on the same 2 cores as the server, PostgreSQL and Redis (and other sessions' work): latencies include their own event-loop time and are noisy. Peak RSS is the server process's high-water mark so far, so it only grows from row to row.`,
      '',
      table(['N', 'deliveries', 'distinct events', 'lost', 'cross-tenant', 'spread p50 ms', 'spread p99 ms', 'publish → receive p50 ms', 'publish → receive p99 ms', 'peak RSS MiB'], rows),
    ].join('\n');
    await appendReport('Subscription fan-out', database.description, command, body);
  } finally {
    witness?.disconnect();
    await server.stop();
    await database.close();
    await redis?.stop();
  }
}

async function tenant(url: string, index: number): Promise<{ token: string }> {
  const { signUp } = await graphql(url, 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }', {
    input: { email: `fanout-${index}-${randomBytes(3).toString('hex')}@example.com`, password: randomBytes(16).toString('base64url'), tenantName: `Fanout ${index}` },
  });
  return { token: signUp.accessToken };
}

async function allCompleted(url: string, tenants: { token: string }[], datasets: string[]): Promise<boolean> {
  const states = await Promise.all(
    tenants.map(async ({ token }, index) => {
      const { ingestionJobs } = await graphql(url, 'query($d: ID!) { ingestionJobs(datasetId: $d, first: 5) { edges { node { stage } } } }', { d: datasets[index]! }, token);
      return (ingestionJobs.edges as { node: { stage: string } }[]).every((edge) => edge.node.stage === 'COMPLETED');
    }),
  );
  return states.every(Boolean);
}

/** Until the server's /metrics counts `size` live graphql-ws subscriptions (or 60 s). */
async function subscriptionsActive(server: BenchServer, size: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const active = (await server.metrics())('sluice_graphql_active_subscriptions{transport="ws"}');
    if (active >= size) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the server did not count ${size} subscriptions within 60 s`);
}
