/**
 * The event bus subscriptions listen on: in-process by default; with REDIS_URL, Redis pub/sub
 * (@graphql-yoga/redis-event-target), so an API process sees what a worker elsewhere publishes.
 *
 * Redis is optional at run time too: while it is unreachable, events are delivered within this
 * process (a subscriber on the instance whose inline worker runs the job still sees every
 * step), and other processes fall back to re-reading the database (domains/ingestion/progress.ts:
 * events are hints). The switch each way is logged once, not per event.
 */
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';

/**
 * What the bus needs of an ingestion progress event: the job and dataset it is about, to pick
 * its topics. The event itself (domains/ingestion/progress.ts) travels as it was published.
 */
export interface ProgressMessage {
  snapshot: { jobId: string; datasetId: string };
}

/** A hint that a dataset itself changed (its settings, its embeddings model) or was deleted: listeners read it again. */
export interface DatasetChangeMessage {
  tenantId: string;
  datasetId: string;
}

/**
 * Ingestion progress, per job and per dataset, and hints that a dataset itself changed (the
 * same transport: a dataset page follows both). `listen` yields what `publish` was given:
 * domains/ingestion/progress.ts narrows `E` to its ProgressEvent (ProgressBus).
 */
export interface ProgressChannel {
  publish(event: ProgressMessage): void;
  /** Starts listening at once; the iterator yields events published from then on. */
  listen<E extends ProgressMessage>(topic: { jobId: string } | { datasetId: string }): AsyncIterableIterator<E>;
  publishDatasetChange(change: DatasetChangeMessage): void;
  /** Starts listening at once, like `listen`. */
  listenDatasetChanges(datasetId: string): AsyncIterableIterator<DatasetChangeMessage>;
}

type Topics = {
  'ingestion:job': [jobId: string, event: ProgressMessage];
  'ingestion:dataset': [datasetId: string, event: ProgressMessage];
  'dataset:changed': [datasetId: string, change: DatasetChangeMessage];
  'audit:tenant': [tenantId: string, hint: { seq: number }];
  'mcp:cancel': [request: CallCancellation];
};

/** Hints that a tenant's audit trail grew; listeners read the events themselves (RLS applies). */
export interface AuditBus {
  publish(tenantId: string): void;
  listen(tenantId: string): AsyncIterableIterator<{ seq: number }>;
}

/** A client's cancellation of a running MCP tool call, by the call's registry key (routes/mcp/in-flight-calls.ts). */
export interface CallCancellation {
  key: string;
  reason: string;
}

/**
 * Cancellations of MCP tool calls, for whichever process runs the call: a cancellation is a
 * request of its own, which another API process may answer (with Redis, every process hears it).
 */
export interface CallCancelBus {
  publish(cancellation: CallCancellation): void;
  listen(): AsyncIterableIterator<CallCancellation>;
}

export interface EventBus {
  progress: ProgressChannel;
  audit: AuditBus;
  callCancels: CallCancelBus;
  /** Where events travel, for start-up logs. */
  transport: 'memory' | 'redis';
  close(): Promise<void>;
}

type Listener = EventListenerOrEventListenerObject;
type PubSubTarget = Pick<EventTarget, 'addEventListener' | 'removeEventListener' | 'dispatchEvent'>;

export async function createEventBus({ redisUrl, logger }: { redisUrl: string | undefined; logger: Logger }): Promise<EventBus> {
  let close = async () => {};
  let eventTarget: PubSubTarget | undefined;
  if (redisUrl) {
    const redis = await redisEventTarget(redisUrl, logger.child({ component: 'events' }));
    eventTarget = redis.target;
    close = redis.close;
  }
  const pubsub = createPubSub<Topics>(eventTarget ? { eventTarget } : undefined);
  const progress: ProgressChannel = {
    publish(event) {
      pubsub.publish('ingestion:job', event.snapshot.jobId, event);
      pubsub.publish('ingestion:dataset', event.snapshot.datasetId, event);
    },
    listen<E extends ProgressMessage>(topic: { jobId: string } | { datasetId: string }) {
      const iterator = 'jobId' in topic ? pubsub.subscribe('ingestion:job', topic.jobId) : pubsub.subscribe('ingestion:dataset', topic.datasetId);
      return listeningNow(iterator) as AsyncIterableIterator<E>;
    },
    publishDatasetChange: (change) => pubsub.publish('dataset:changed', change.datasetId, change),
    listenDatasetChanges: (datasetId) => listeningNow(pubsub.subscribe('dataset:changed', datasetId)),
  };
  const audit: AuditBus = {
    publish: (tenantId) => pubsub.publish('audit:tenant', tenantId, { seq: 0 }),
    listen: (tenantId) => pubsub.subscribe('audit:tenant', tenantId) as AsyncIterableIterator<{ seq: number }>,
  };
  const callCancels: CallCancelBus = {
    publish: (cancellation) => pubsub.publish('mcp:cancel', cancellation),
    listen: () => pubsub.subscribe('mcp:cancel') as AsyncIterableIterator<CallCancellation>,
  };
  return { progress, audit, callCancels, transport: redisUrl ? 'redis' : 'memory', close };
}

/** Repeaters start listening on their first `next()`: this asks for one now so no event is missed. */
function listeningNow<T>(iterator: AsyncIterableIterator<T>): AsyncIterableIterator<T> {
  const first = iterator.next();
  let started = false;
  return {
    next: () => {
      if (!started) {
        started = true;
        return first;
      }
      return iterator.next();
    },
    return: (value?: unknown) => iterator.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncIterableIterator<T>;
}

/**
 * Every listener is registered twice: with Redis (for events from any process) and with an
 * in-process target (for this process's own events while Redis is away). An event goes to
 * exactly one of them: Redis while both connections are ready, else the local target. A
 * publish that fails in flight is delivered locally too, so at worst a subscriber hears an
 * event twice; subscribers skip sequences they have seen.
 */
async function redisEventTarget(redisUrl: string, logger: Logger): Promise<{ target: PubSubTarget; close(): Promise<void> }> {
  // Publishing never waits for a reconnect: the event is delivered locally instead.
  const publishClient = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
  // Subscribing waits (no retry limit): a SUBSCRIBE made during an outage is sent when Redis
  // is back, so that subscriber hears other processes again without resubscribing.
  const subscribeClient = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  let degraded = false;
  let closing = false;
  const ready = () => publishClient.status === 'ready' && subscribeClient.status === 'ready';
  const notice = () => {
    if (closing) return;
    if (!degraded && !ready()) {
      degraded = true;
      logger.warn('Redis is unavailable: subscription events are delivered within this process until it returns');
    } else if (degraded && ready()) {
      degraded = false;
      logger.info('Redis is reachable again: subscription events are shared across processes again');
    }
  };
  for (const client of [publishClient, subscribeClient]) {
    // ioredis reports every failed reconnect: the switch itself is logged once, in notice().
    client.on('error', (error: Error) => logger.debug({ reason: error.message }, 'redis connection error'));
  }
  // Fail at start-up, not at the first event, when Redis is unreachable.
  await Promise.all([publishClient.connect(), subscribeClient.connect()]);
  // Watched from here: while the two connect, one is ready before the other.
  for (const client of [publishClient, subscribeClient]) {
    client.on('close', notice);
    client.on('ready', notice);
  }

  // The Redis event target fires and forgets its commands: a rejection would be unhandled and
  // end the process. Failures are handled here (a publish falls back to local delivery).
  const local = new EventTarget();
  let pendingFallback: Event | undefined;
  const publisher = {
    publish: (channel: string, message: string) => {
      const event = pendingFallback;
      return publishClient.publish(channel, message).catch((error: unknown) => {
        logger.debug({ reason: (error as Error).message, channel }, 'event delivered in this process only (Redis unavailable)');
        if (event) local.dispatchEvent(event);
        notice();
        return 0;
      });
    },
  } as unknown as Redis;
  const subscriber = {
    on: (name: string, listener: (...args: any[]) => void) => subscribeClient.on(name, listener),
    subscribe: (channel: string) => subscribeClient.subscribe(channel).catch(() => 0),
    unsubscribe: (channel: string) => subscribeClient.unsubscribe(channel).catch(() => 0),
  } as unknown as Redis;
  const shared = createRedisEventTarget({ publishClient: publisher, subscribeClient: subscriber });

  const target: PubSubTarget = {
    addEventListener(type: string, listener: Listener | null) {
      shared.addEventListener(type, listener as never);
      local.addEventListener(type, listener);
    },
    removeEventListener(type: string, listener: Listener | null) {
      shared.removeEventListener(type, listener as never);
      local.removeEventListener(type, listener);
    },
    dispatchEvent(event: Event) {
      if (!ready()) {
        notice();
        return local.dispatchEvent(event);
      }
      // publish() runs synchronously inside dispatchEvent and keeps the event for its fallback.
      pendingFallback = event;
      try {
        return shared.dispatchEvent(event as CustomEvent);
      } finally {
        pendingFallback = undefined;
      }
    },
  };
  return {
    target,
    close: async () => {
      closing = true;
      // quit waits for Redis to answer; a Redis that is away gets a disconnect instead.
      await Promise.all(
        [publishClient, subscribeClient].map((client) => (client.status === 'ready' ? client.quit().catch(() => client.disconnect()) : client.disconnect())),
      );
    },
  };
}
