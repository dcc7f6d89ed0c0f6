/**
 * Token buckets: a bucket holds up to `burst` tokens and refills continuously at `perSecond`;
 * each request takes one (or, for a request that counts as several, that many at once: all or
 * none, so a refused request has spent nothing). A client may send `burst` requests at once, then `perSecond` a second
 * for as long as it likes, and is told exactly when the next token arrives.
 *
 * The arithmetic lives here once; the in-process store runs it in JavaScript and the Redis store
 * runs the same steps in Lua (redis-buckets.ts), so both answer alike.
 */

/** A limit: `burst` requests at once, refilled at `perSecond` (which may be fractional). */
export interface BucketRule {
  perSecond: number;
  burst: number;
}

export interface BucketResult {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** When refused: milliseconds until a token is available again. 0 when allowed. */
  retryAfterMs: number;
}

/** Where buckets live: this process, or Redis shared by every API process. */
export interface BucketStore {
  /**
   * Takes `tokens` (default 1) from the bucket `key` atomically, all or none, judged by `rule`
   * (which may change between calls).
   */
  take(key: string, rule: BucketRule, tokens?: number): Promise<BucketResult>;
  close(): Promise<void>;
}

export interface BucketState {
  tokens: number;
  /** When `tokens` was last computed, in milliseconds. */
  at: number;
}

/**
 * Refills `state` up to `now`, then takes `count` tokens if there are that many, else none. Pure.
 * A `count` over the burst is never allowed; its `retryAfterMs` is then when the bucket would
 * hold `count`, were it not capped.
 */
export function takeToken(state: BucketState | undefined, rule: BucketRule, now: number, count = 1): { state: BucketState; result: BucketResult } {
  const elapsed = state ? Math.max(0, now - state.at) : 0;
  const tokens = state ? Math.min(rule.burst, state.tokens + (elapsed * rule.perSecond) / 1000) : rule.burst;
  if (tokens >= count) {
    return { state: { tokens: tokens - count, at: now }, result: { allowed: true, remaining: Math.floor(tokens - count), retryAfterMs: 0 } };
  }
  return {
    state: { tokens, at: now },
    result: { allowed: false, remaining: 0, retryAfterMs: Math.ceil(((count - tokens) * 1000) / rule.perSecond) },
  };
}

/** When an untouched bucket is full again, so its state can be forgotten (it equals a new one). */
export function fullAt(state: BucketState, rule: BucketRule): number {
  return state.at + Math.ceil(((rule.burst - state.tokens) * 1000) / rule.perSecond);
}

/** `Retry-After` in whole seconds: at least 1, as HTTP and clients expect. */
export function retryAfterSeconds(result: BucketResult): number {
  return Math.max(1, Math.ceil(result.retryAfterMs / 1000));
}
