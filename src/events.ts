/**
 * The event bus subscriptions listen on: in-process by default; with REDIS_URL, Redis pub/sub
 * (@graphql-yoga/redis-event-target), so an API process sees what a worker elsewhere publishes.
 */
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { ProgressBus, ProgressEvent } from './domains/ingestion/progress.js';
import type { Logger } from './logger.js';

type Topics = {
  'ingestion:job': [jobId: string, event: ProgressEvent];
  'ingestion:dataset': [datasetId: string, event: ProgressEvent];
  'audit:tenant': [tenantId: string, hint: { seq: number }];
};

/** Hints that a tenant's audit trail grew; listeners read the events themselves (RLS applies). */
export interface AuditBus {
  publish(tenantId: string): void;
  listen(tenantId: string): AsyncIterableIterator<{ seq: number }>;
}

export interface EventBus {
  progress: ProgressBus;
  audit: AuditBus;
  /** Where events travel, for start-up logs. */
  transport: 'memory' | 'redis';
  close(): Promise<void>;
}

export async function createEventBus({ redisUrl, logger }: { redisUrl: string | undefined; logger: Logger }): Promise<EventBus> {
  let close = async () => {};
  let eventTarget;
  if (redisUrl) {
    const options = { lazyConnect: true, maxRetriesPerRequest: 3 };
    const publishClient = new Redis(redisUrl, options);
    const subscribeClient = new Redis(redisUrl, options);
    for (const client of [publishClient, subscribeClient]) {
      client.on('error', (error) => logger.warn({ err: error, component: 'events' }, 'redis connection error'));
    }
    // Fail at start-up, not at the first event, when Redis is unreachable.
    await Promise.all([publishClient.connect(), subscribeClient.connect()]);
    // The event target fires and forgets its publishes: a rejection (Redis gone past its
    // retries) would be unhandled and end the process. Events are hints (the database is the
    // truth), so a lost one is logged, not fatal.
    const publisher = {
      publish: (channel: string, message: string) =>
        publishClient.publish(channel, message).catch((error: unknown) => {
          logger.warn({ err: error, component: 'events', channel }, 'event not published (Redis unavailable)');
          return 0;
        }),
    } as unknown as Redis;
    eventTarget = createRedisEventTarget({ publishClient: publisher, subscribeClient });
    close = async () => {
      await Promise.all([publishClient.quit(), subscribeClient.quit()]).catch(() => undefined);
    };
  }
  const pubsub = createPubSub<Topics>(eventTarget ? { eventTarget } : undefined);
  const progress: ProgressBus = {
    publish(event) {
      pubsub.publish('ingestion:job', event.snapshot.jobId, event);
      pubsub.publish('ingestion:dataset', event.snapshot.datasetId, event);
    },
    listen(topic) {
      const iterator = 'jobId' in topic ? pubsub.subscribe('ingestion:job', topic.jobId) : pubsub.subscribe('ingestion:dataset', topic.datasetId);
      // Repeaters start listening on their first `next()`: ask for one now so no event is missed.
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
      } as AsyncIterableIterator<ProgressEvent>;
    },
  };
  const audit: AuditBus = {
    publish: (tenantId) => pubsub.publish('audit:tenant', tenantId, { seq: 0 }),
    listen: (tenantId) => pubsub.subscribe('audit:tenant', tenantId) as AsyncIterableIterator<{ seq: number }>,
  };
  return { progress, audit, transport: redisUrl ? 'redis' : 'memory', close };
}
