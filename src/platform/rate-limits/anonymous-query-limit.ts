/**
 * The per-address limit on anonymous endpoint queries: a token bucket per client address
 * (IPv6: per /64, see `ipIdentity`) and endpoint, in the server's bucket store (Redis when
 * configured, so it holds across instances). Applied whether or not the request limits are on
 * (SLUICE_RATE_LIMITS): an endpoint open to anyone must not be drained by one address.
 */
import { bucketKey, ipIdentity } from './bucket-keys.js';
import { rateLimited } from './refusal.js';
import type { BucketRule, BucketStore } from './token-bucket.js';
import type { RateLimitedError } from '../errors/index.js';

export class AnonymousQueryLimit {
  constructor(
    private readonly buckets: BucketStore,
    /** Queries at once (`burst`) and refilled per second, per address and endpoint. */
    readonly rule: BucketRule,
  ) {}

  /** Takes one query from the address's bucket for the endpoint: null when allowed, else the refusal. */
  async take(address: string, endpointId: string): Promise<RateLimitedError | null> {
    const result = await this.buckets.take(bucketKey('anonymous-query', `${endpointId}/${ipIdentity(address)}`), this.rule);
    return result.allowed ? null : rateLimited('anonymous queries from your address', result);
  }

  /** The rule in words, for the decision log: `10 at once, 30 per minute per address`. */
  describe(): string {
    const perMinute = Math.round(this.rule.perSecond * 60 * 1000) / 1000;
    return `anonymous: ${this.rule.burst} at once, ${perMinute} per minute per address`;
  }
}
