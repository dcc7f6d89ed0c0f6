/**
 * Subscription fan-out: N graphql-ws subscribers (BENCH_FANOUT, default 100 and 1000), spread
 * over 10 tenants, each watching its tenant's dataset (`datasetIngestion`) while one
 * ingestion job per tenant runs. Reported per N: events delivered, lost events (a
 * subscriber missing a sequence its tenant's other subscribers saw), cross-tenant
 * deliveries (must be 0), the spread between the first and the last subscriber receiving
 * the same event (p50/p99: what fan-out costs; an absolute publish-to-receive time needs a
 * server timestamp the events do not carry), and the server's peak memory.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { appendReport, fixed, machineFacts, table } from './support/report.js';
import { graphql, openBenchDatabase, RAISED_LIMITS, startBenchServer } from './support/sluice.js';

const TENANTS = 10;

interface Received {
  tenant: number;
  datasetId: string;
  sequence: number;
  at: number;
}

export async function fanoutBenchmark(command: string): Promise<void> {
  const sizes = (process.env.BENCH_FANOUT ?? '100,1000').split(',').map(Number);
  const database = await openBenchDatabase();
  const server = await startBenchServer(database, {
    ...RAISED_LIMITS,
    // Events only as pushed: a quiet subscriber's own re-read would blur the measurement.
    SLUICE_PROGRESS_POLL_MS: '600000',
    SLUICE_MAX_BODY_BYTES: '8388608',
  });
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
      let subscribed = 0;
      await new Promise<void>((ready) => {
        for (let i = 0; i < size; i += 1) {
          const index = i % TENANTS;
          const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${tenants[index]!.token}` } });
          clients.push(client);
          client.subscribe(
            { query: 'subscription($id: ID!) { datasetIngestion(datasetId: $id) { sequence stage } }', variables: { id: datasets[index]! } },
            {
              next: (result) => {
                const event = result.data?.datasetIngestion as { sequence: number } | undefined;
                if (event) received.push({ tenant: index, datasetId: datasets[index]!, sequence: event.sequence, at: performance.now() });
              },
              error: () => undefined,
              complete: () => undefined,
            },
          );
          client.on('connected', () => ++subscribed === size && ready());
        }
      });
      // Subscriptions register after connecting: give them a moment before the jobs start.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const documents = Array.from({ length: 30 }, (_, i) => ({ title: `doc-${i}`, text: `Paragraph ${i} of the fan-out corpus. `.repeat(400) }));
      await Promise.all(
        tenants.map(({ token }, index) =>
          graphql(server.url, 'mutation($d: ID!, $docs: [InlineDocumentInput!]) { ingestDocuments(datasetId: $d, documents: $docs) { id } }', { d: datasets[index]!, docs: documents }, token),
        ),
      );
      // Until every tenant's stream has shown COMPLETED to its subscribers (or 120 s).
      const deadline = Date.now() + 120_000;
      const perTenant = size / TENANTS;
      while (Date.now() < deadline) {
        if (await allCompleted(server.url, tenants, datasets)) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await Promise.all(clients.map((client) => client.dispose()));

      // Per (tenant, sequence): who got it, how spread out.
      const byEvent = new Map<string, number[]>();
      for (const event of received) byEvent.set(`${event.tenant}/${event.sequence}`, [...(byEvent.get(`${event.tenant}/${event.sequence}`) ?? []), event.at]);
      const spreads = [...byEvent.values()].map((times) => Math.max(...times) - Math.min(...times)).sort((a, b) => a - b);
      const lost = [...byEvent.values()].reduce((sum, times) => sum + (perTenant - times.length), 0);
      const crossTenant = received.filter((event) => event.datasetId !== datasets[event.tenant]).length;
      const pick = (p: number) => spreads[Math.min(spreads.length - 1, Math.floor((p / 100) * spreads.length))] ?? 0;
      rows.push([size, received.length, byEvent.size, lost, crossTenant, fixed(pick(50)), fixed(pick(99)), fixed((await server.peakRss()) / 1024 / 1024, 0)]);
      console.log(`N=${size}: ${received.length} deliveries of ${byEvent.size} events, lost ${lost}, cross-tenant ${crossTenant}, spread p50 ${fixed(pick(50))} ms p99 ${fixed(pick(99))} ms`);
    }
    const body = [
      `Subscription fan-out: N graphql-ws subscribers over ${TENANTS} tenants, each on its tenant's \`datasetIngestion\`, while one job of 30 documents per tenant runs (progress throttled to ~10 events/s per job), one \`sluice serve\` with its inline worker, in-process events (no Redis). "Lost": deliveries missing against the tenant's other subscribers; "spread": first to last subscriber receiving the same event.`,
      '',
      table(['N', 'deliveries', 'distinct events', 'lost', 'cross-tenant', 'spread p50 ms', 'spread p99 ms', 'peak RSS MiB'], rows),
    ].join('\n');
    console.log(`\n${body}`);
    await appendReport('Subscription fan-out', machineFacts(database.description), command, body);
  } finally {
    await server.stop();
    await database.close();
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
