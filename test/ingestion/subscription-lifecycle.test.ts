/**
 * Subscriptions cost the server only while someone listens: an abandoned socket (terminated,
 * dropped, closed) stops every database read its subscriptions made; many quiet subscribers to
 * one job or dataset share one reader; and one connection or one principal cannot open more
 * than the configured number of subscriptions at once.
 */
import type { Socket } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDataset, ingestInline, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const POLL_MS = 100;
const PER_CONNECTION = 12;
const PER_PRINCIPAL = 39;
let server: TestServer;
beforeAll(async () => {
  // No worker: jobs stay QUEUED, so their subscribers stay quiet and open.
  server = await startTestServer({
    worker: false,
    env: {
      SLUICE_PROGRESS_POLL_MS: String(POLL_MS),
      SLUICE_SUBSCRIPTIONS_PER_CONNECTION: String(PER_CONNECTION),
      SLUICE_SUBSCRIPTIONS_PER_PRINCIPAL: String(PER_PRINCIPAL),
    },
  });
});
afterAll(() => server?.close());

const DATASET_FEED = `subscription($id: ID!) { datasetIngestion(datasetId: $id) { jobId stage } }`;
const JOB_FEED = `subscription($id: ID!) { ingestionProgress(jobId: $id) { jobId stage } }`;

/** SQL statements the server sends that mention `text` (MikroORM inlines parameters). */
function statementsMentioning(texts: string[], on = server) {
  const knex = on.orm.em.getConnection().getKnex();
  let count = 0;
  const listener = (query: { sql?: string }) => {
    if (texts.some((text) => query.sql?.includes(text))) count++;
  };
  knex.on('query', listener);
  return {
    get count() {
      return count;
    },
    stop: () => knex.off('query', listener),
  };
}

/** Resolves once `holds()` does, checking as the server works. */
async function until(holds: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A gauge of the server's /metrics (summed over its labels). */
async function gauge(name: string, on = server): Promise<number> {
  const text = await (await fetch(`${on.baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** The server has let go of every subscription and every shared reader. */
async function nothingLive(on = server): Promise<void> {
  await until(async () => (await gauge('sluice_graphql_active_subscriptions', on)) === 0 && (await gauge('sluice_subscription_topics', on)) === 0, 'no subscription is live');
}

/**
 * Proves `reads` stays at zero while a control subscriber on another dataset polls three
 * times (the window is counted in the server's own poll intervals, not in wall-clock time).
 */
async function expectNoReadsWhileControlPolls(token: string, abandonedIds: string[], on = server) {
  const control = await queuedJob(token, on);
  const controlReads = statementsMentioning(control.rawIds, on);
  const watcher = open(token, { on });
  const reads = statementsMentioning(abandonedIds, on);
  try {
    await subscribe(watcher.client, DATASET_FEED, { id: control.datasetId }).arrived;
    const before = controlReads.count;
    await until(() => controlReads.count >= before + 3, 'the control subscriber has polled three times');
    expect(reads.count).toBe(0);
  } finally {
    reads.stop();
    controlReads.stop();
    await watcher.client.dispose();
  }
}

interface Opened {
  client: Client;
  socket: Promise<WebSocket>;
  /** The server's side of the TCP connection has closed. */
  closedOnServer: Promise<void>;
}

/** A WebSocket that never answers the server's pings: a peer whose network has gone. */
class Unanswering extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { autoPong: false });
  }
}

/** A graphql-ws client whose server-side socket the test can watch close. */
function open(token: string, { on = server, webSocketImpl = WebSocket as unknown } = {}): Opened {
  let serverSide: ((socket: Socket) => void) | undefined;
  const closedOnServer = new Promise<void>((resolve) => {
    serverSide = (socket) => socket.once('close', () => resolve());
  });
  // Each client names itself in its URL, so its upgrade is told from others made meanwhile.
  const name = Math.random().toString(36).slice(2);
  const httpServer = on.server.httpServer;
  const onUpgrade = (req: { url?: string }, socket: Socket) => {
    if (!req.url?.endsWith(`?client=${name}`)) return;
    httpServer.off('upgrade', onUpgrade);
    serverSide!(socket);
  };
  httpServer.on('upgrade', onUpgrade);
  let connected: (socket: WebSocket) => void;
  const socket = new Promise<WebSocket>((resolve) => (connected = resolve));
  const client = createClient({
    url: `${on.wsUrl}?client=${name}`,
    webSocketImpl,
    onNonLazyError: () => undefined,
    retryAttempts: 0,
    lazy: false,
    connectionParams: { authorization: `Bearer ${token}` },
    on: { connected: (s) => connected(s as WebSocket) },
  });
  return { client, socket, closedOnServer };
}

/** Subscribes; `arrived` resolves once the first result (or the end) has come. */
function subscribe(client: Client, query: string, variables: Record<string, unknown>) {
  const results: any[] = [];
  let first: () => void;
  const arrived = new Promise<void>((resolve) => (first = resolve));
  let unsubscribe: () => void;
  const ended = new Promise<void>((resolve) => {
    unsubscribe = client.subscribe(
      { query, variables },
      {
        next: (result) => (results.push(result), first()),
        // A closed socket arrives as a CloseEvent: kept, so a check on the results sees it.
        error: (error) => (results.push({ closed: (error as { code?: number }).code ?? String(error) }), first(), resolve()),
        complete: () => (first(), resolve()),
      },
    );
  });
  return { results, arrived, ended, unsubscribe: () => unsubscribe() };
}

async function queuedJob(token: string, on = server) {
  const dataset = await createDataset(on, token);
  const { body } = await ingestInline(on, token, dataset.id, [{ title: 'a', text: 'Some text to index.' }]);
  const jobId = body.data.ingestDocuments.id as string;
  return { datasetId: dataset.id, jobId, rawIds: [databaseIdOf(dataset.id), databaseIdOf(jobId)] };
}

const AUDIT_FEED = `subscription { auditEvents { action } }`;
const HEARTBEAT = `subscription { heartbeat(intervalSeconds: 300) { sequence } }`;

/** Opens `perSocket` subscriptions of each feed on each socket and waits for their first results. */
async function watchFrom(sockets: Opened[], feeds: { query: string; variables?: Record<string, unknown> }[], perSocket: number) {
  const subscriptions = sockets.flatMap(({ client }) =>
    Array.from({ length: perSocket }, (_, i) => subscribe(client, feeds[i % feeds.length]!.query, feeds[i % feeds.length]!.variables ?? {})),
  );
  await Promise.all(subscriptions.map((subscription) => subscription.arrived));
  return subscriptions;
}

describe('abandoned subscriptions stop reading the database', () => {
  it('when their sockets are terminated (progress by job and by dataset, and the audit trail)', async () => {
    const { token, tenant } = await tenantWithOwner(server);
    const abandoned = await queuedJob(token);
    const sockets = [open(token), open(token), open(token)];
    const feeds = [
      { query: JOB_FEED, variables: { id: abandoned.jobId } },
      { query: DATASET_FEED, variables: { id: abandoned.datasetId } },
    ];
    const progress = await watchFrom(sockets, feeds, 6);
    expect(progress.map((subscription) => subscription.results[0]).filter((result) => !result?.data)).toEqual([]);
    // The audit feed is quiet until the trail grows: grow it until every subscriber has heard.
    const audit = sockets.flatMap(({ client }) => [subscribe(client, AUDIT_FEED, {}), subscribe(client, AUDIT_FEED, {})]);
    await until(async () => {
      await createDataset(server, token);
      return audit.every((subscription) => subscription.results[0]?.data?.auditEvents);
    }, 'every audit subscriber has heard of a new event');
    expect(await gauge('sluice_subscription_topics')).toBe(3);

    for (const { socket } of sockets) (await socket).terminate();
    await Promise.all(sockets.map(({ closedOnServer }) => closedOnServer));
    await nothingLive();
    // The trail's reads name the tenant and a sequence; its writer does not read that way.
    await expectNoReadsWhileControlPolls(token, [...abandoned.rawIds, `'${tenant.id}'::uuid and seq >`]);
  });

  it('when the peer stops answering pings (a dropped network)', async () => {
    // A server of the same database that pings every second: a socket that has not answered
    // one ping by the next is cut.
    const pinging = await startTestServer({ database: server.database, worker: false, env: { SLUICE_PROGRESS_POLL_MS: String(POLL_MS), SLUICE_WS_KEEPALIVE_MS: '1000' } });
    try {
      const { token } = await tenantWithOwner(pinging);
      const abandoned = await queuedJob(token, pinging);
      const deaf = open(token, { on: pinging, webSocketImpl: Unanswering });
      const feeds = [{ query: JOB_FEED, variables: { id: abandoned.jobId } }, { query: DATASET_FEED, variables: { id: abandoned.datasetId } }];
      await watchFrom([deaf], feeds, 6);
      // Nothing is closed by the client: the server finds out by itself.
      await deaf.closedOnServer;
      await nothingLive(pinging);
      await expectNoReadsWhileControlPolls(token, abandoned.rawIds, pinging);
    } finally {
      await pinging.close();
    }
  });

  it('when the client completes them, or an SSE client goes away', async () => {
    const { token } = await tenantWithOwner(server);
    const abandoned = await queuedJob(token);
    const socket = open(token);
    const subscriptions = await watchFrom([socket], [{ query: JOB_FEED, variables: { id: abandoned.jobId } }, { query: DATASET_FEED, variables: { id: abandoned.datasetId } }], 6);
    const streams = Array.from({ length: 4 }, () => new AbortController());
    await Promise.all(
      streams.map(async (controller, i) => {
        const response = await fetch(server.url, {
          method: 'POST',
          signal: controller.signal,
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: i % 2 ? DATASET_FEED : JOB_FEED, variables: { id: i % 2 ? abandoned.datasetId : abandoned.jobId } }),
        });
        const reader = response.body!.getReader();
        // The first event (the job as it is) has arrived: the stream is live.
        while (!new TextDecoder().decode((await reader.read()).value).includes('QUEUED'));
      }),
    );
    for (const subscription of subscriptions) subscription.unsubscribe();
    for (const controller of streams) controller.abort();
    await nothingLive();
    await expectNoReadsWhileControlPolls(token, abandoned.rawIds);
    await socket.client.dispose();
  });
});

describe('quiet subscribers share one reader', () => {
  it('many subscribers of one job and one dataset cost one read of each per poll interval', async () => {
    const { token } = await tenantWithOwner(server);
    const watched = await queuedJob(token);
    const sockets = [open(token), open(token), open(token)];
    await watchFrom(sockets, [{ query: JOB_FEED, variables: { id: watched.jobId } }, { query: DATASET_FEED, variables: { id: watched.datasetId } }], 10);
    expect(await gauge('sluice_subscription_topics')).toBe(2);

    const [datasetId, jobId] = watched.rawIds as [string, string];
    const jobReads = statementsMentioning([jobId]);
    const datasetReads = statementsMentioning([datasetId]);
    // The window: a control subscriber's reader (same interval) polls five times.
    const control = await queuedJob(token);
    const controlReads = statementsMentioning(control.rawIds);
    const watcher = open(token);
    try {
      await subscribe(watcher.client, DATASET_FEED, { id: control.datasetId }).arrived;
      const [jobBefore, datasetBefore, controlBefore] = [jobReads.count, datasetReads.count, controlReads.count];
      await until(() => controlReads.count >= controlBefore + 5, 'the control subscriber has polled five times');
      const intervals = controlReads.count - controlBefore;
      // One reader each: about one read per interval (a timer's phase may add one), where
      // fifteen subscribers each polling would have read fifteen times as often.
      expect(jobReads.count - jobBefore).toBeGreaterThan(0);
      expect(jobReads.count - jobBefore).toBeLessThanOrEqual(intervals + 2);
      expect(datasetReads.count - datasetBefore).toBeGreaterThan(0);
      expect(datasetReads.count - datasetBefore).toBeLessThanOrEqual(intervals + 2);
    } finally {
      for (const counter of [jobReads, datasetReads, controlReads]) counter.stop();
      await watcher.client.dispose();
      await Promise.all(sockets.map(({ client }) => client.dispose()));
    }
    await nothingLive();
  });
});

describe('subscription caps', () => {
  const codeOf = (result: any) => result?.errors?.[0]?.extensions;

  it('refuse one more subscription than a connection, then a principal, may hold; ending one frees its place', async () => {
    const { token } = await tenantWithOwner(server);
    const first = open(token);
    const held = await watchFrom([first], [{ query: HEARTBEAT }], PER_CONNECTION);
    expect(held.every((subscription) => subscription.results[0]?.data?.heartbeat)).toBe(true);

    const overConnection = subscribe(first.client, HEARTBEAT, {});
    await overConnection.arrived;
    expect(codeOf(overConnection.results[0])).toEqual({ code: 'SUBSCRIPTION_LIMIT_EXCEEDED', scope: 'connection', limit: PER_CONNECTION });
    // The socket and its other subscriptions stay open.
    const stillOpen = subscribe(first.client, `{ viewer { kind } }`, {});
    await stillOpen.arrived;
    expect(stillOpen.results[0].data.viewer.kind).toBe('USER');

    const others = [open(token), open(token), open(token)];
    const spread = await watchFrom(others, [{ query: HEARTBEAT }], (PER_PRINCIPAL - PER_CONNECTION) / 3);
    expect(spread.every((subscription) => subscription.results[0]?.data?.heartbeat)).toBe(true);
    const overPrincipal = subscribe(others[0]!.client, HEARTBEAT, {});
    await overPrincipal.arrived;
    expect(codeOf(overPrincipal.results[0])).toEqual({ code: 'SUBSCRIPTION_LIMIT_EXCEEDED', scope: 'principal', limit: PER_PRINCIPAL });
    // Over SSE too: the principal's count spans transports.
    const sse = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: HEARTBEAT }),
    });
    expect(await sse.text()).toContain('SUBSCRIPTION_LIMIT_EXCEEDED');

    // Another principal is not counted with this one.
    const stranger = await tenantWithOwner(server);
    const theirs = open(stranger.token);
    expect((await watchFrom([theirs], [{ query: HEARTBEAT }], 1))[0]!.results[0].data.heartbeat).toBeTruthy();

    // Ending one frees its place at once.
    spread[0]!.unsubscribe();
    await until(async () => {
      const again = subscribe(others[1]!.client, HEARTBEAT, {});
      await again.arrived;
      return Boolean(again.results[0]?.data?.heartbeat);
    }, 'a freed place is taken again');

    await Promise.all([first, ...others, theirs].map(({ client }) => client.dispose()));
    await nothingLive();
  });
});
