/**
 * Token buckets in this process: the default store, and the fallback while Redis is away.
 *
 * Memory stays bounded whatever callers send (every distinct IP or guessed email is a key): a
 * bucket that has refilled completely is forgotten (a new one would be identical), and past
 * `maxKeys` the least recently used buckets go first.
 */
import { fullAt, takeToken, type BucketResult, type BucketRule, type BucketState, type BucketStore } from './token-bucket.js';

export interface MemoryBucketOptions {
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
  /** Most buckets kept at once. @default 100000 */
  maxKeys?: number;
}

interface Entry extends BucketState {
  /** When this bucket is full again and may be dropped. */
  fullAt: number;
}

/** How many writes between two sweeps for full buckets (amortised: no timer to stop). */
const SWEEP_EVERY = 1024;

export class MemoryBucketStore implements BucketStore {
  private readonly buckets = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxKeys: number;
  private writes = 0;

  constructor(options: MemoryBucketOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  async take(key: string, rule: BucketRule, tokens = 1): Promise<BucketResult> {
    const now = this.now();
    const { state, result } = takeToken(this.buckets.get(key), rule, now, tokens);
    // Delete then set: Map order becomes least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, { ...state, fullAt: fullAt(state, rule) });
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (++this.writes % SWEEP_EVERY === 0) this.forgetFull(now);
    return result;
  }

  /** Buckets held now (for tests and diagnostics). */
  get size(): number {
    return this.buckets.size;
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }

  private forgetFull(now: number): void {
    for (const [key, entry] of this.buckets) if (entry.fullAt <= now) this.buckets.delete(key);
  }
}
