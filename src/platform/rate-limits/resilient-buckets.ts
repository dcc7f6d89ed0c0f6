/**
 * Shared buckets that degrade instead of failing: Redis while it answers, this process's own
 * buckets while it does not. Rate limiting must never take the API down with it, nor make a
 * request wait on a dead Redis:
 *
 * - the client does not queue commands while disconnected (`enableOfflineQueue: false`): a
 *   command fails at once, and the request is judged by the in-process bucket;
 * - a Redis that accepts connections but does not answer costs at most `commandTimeoutMs`,
 *   once per `probeIntervalMs` (one request probes; the others go straight to memory);
 * - the switch each way is logged once (warn, then info), not per request.
 *
 * While degraded, each process limits on its own, so a client spread over N processes may get
 * up to N times its limit until Redis returns. That is the price of staying up.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';
import { MemoryBucketStore } from './memory-buckets.js';
import { RedisBucketStore, type BucketKeyDigest } from './redis-buckets.js';
import type { BucketResult, BucketRule, BucketStore } from './token-bucket.js';

export interface BucketStoreOptions {
  /** Absent: buckets live in this process only. */
  redisUrl: string | undefined;
  /** How bucket keys are digested before they go to Redis (redis-buckets.ts). */
  keyDigest: BucketKeyDigest;
  logger: Logger;
  /** The in-process buckets' clock, in milliseconds. @default Date.now */
  now?: () => number;
  /** Longest wait for one Redis answer before falling back. @default 250 */
  commandTimeoutMs?: number;
  /** While degraded, how often one request tries Redis again. @default 1000 */
  probeIntervalMs?: number;
}

/** The bucket store for this configuration: in-process, or Redis with an in-process fallback. */
export function createBucketStore(options: BucketStoreOptions): BucketStore {
  const local = new MemoryBucketStore({ now: options.now });
  if (!options.redisUrl) return local;
  const client = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs ?? 250,
    // Commands in flight when the connection drops fail now rather than being re-sent later.
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    // Reconnect for ever, at most a second apart, so recovery is noticed within about a second.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  return new ResilientBucketStore(client, options.keyDigest, local, options.logger.child({ component: 'rate-limits' }), options.probeIntervalMs ?? 1_000);
}

export class ResilientBucketStore implements BucketStore {
  private readonly shared: RedisBucketStore;
  private degraded = false;
  private nextProbeAt = 0;

  constructor(
    private readonly client: Redis,
    keyDigest: BucketKeyDigest,
    private readonly local: MemoryBucketStore,
    private readonly logger: Logger,
    private readonly probeIntervalMs: number,
  ) {
    this.shared = new RedisBucketStore(client, keyDigest);
    // Reconnected: let the next request try Redis rather than wait for the probe interval.
    client.on('ready', () => (this.nextProbeAt = 0));
    // ioredis reports every failed reconnect; the switch itself is logged once, in take().
    client.on('error', (error: Error) => logger.debug({ reason: error.message }, 'redis connection error'));
  }

  async take(key: string, rule: BucketRule, tokens = 1): Promise<BucketResult> {
    const now = Date.now();
    if (!this.degraded || now >= this.nextProbeAt) {
      // Degraded: this request is the probe; the others keep to memory meanwhile.
      if (this.degraded) this.nextProbeAt = now + this.probeIntervalMs;
      try {
        const result = await this.shared.take(key, rule, tokens);
        if (this.degraded) {
          this.degraded = false;
          this.logger.info('Redis is reachable again: rate limits are shared across processes again');
        }
        return result;
      } catch (error) {
        this.nextProbeAt = now + this.probeIntervalMs;
        if (!this.degraded) {
          this.degraded = true;
          this.logger.warn(
            { reason: (error as Error).message },
            'Redis is unreachable: rate limits are counted in this process until it returns',
          );
        }
      }
    }
    return this.local.take(key, rule, tokens);
  }

  async close(): Promise<void> {
    // disconnect, not quit: quit would wait for a Redis that may be gone.
    this.client.disconnect();
    await this.local.close();
  }
}
