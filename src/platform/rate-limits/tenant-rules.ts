/**
 * Each tenant's per-principal limit: the server default with the tenant's own settings laid
 * over it, read at most once per tenant per `ttlMs` rather than on every request. A change made
 * through this process is seen at once (`forget`); one made through another API process within
 * `ttlMs`.
 */
import type { BucketRule } from './token-bucket.js';

/** A tenant's own values; null or missing ones fall back to the server default. */
export type RuleOverride = { [K in keyof BucketRule]?: BucketRule[K] | null } | null;

interface Entry {
  rule: Promise<BucketRule>;
  expiresAt: number;
}

export class TenantRules {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly defaults: BucketRule,
    private readonly ttlMs: number,
    /** Told when an override could not be read; the default applies meanwhile. */
    private readonly onLoadError: (error: unknown, tenantId: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The rule for `tenantId`, from cache or from `load` (one load at a time per tenant). */
  ruleFor(tenantId: string, load: () => Promise<RuleOverride>): Promise<BucketRule> {
    const now = this.now();
    const cached = this.entries.get(tenantId);
    if (cached && cached.expiresAt > now) return cached.rule;
    if (this.entries.size >= 10_000) this.forgetExpired(now);
    // The promise is cached before it settles, so concurrent requests share one read, and a
    // `forget` during the read drops it rather than letting the old value land afterwards.
    const entry: Entry = {
      expiresAt: now + this.ttlMs,
      rule: load().then(
        (override) => ({ perSecond: override?.perSecond ?? this.defaults.perSecond, burst: override?.burst ?? this.defaults.burst }),
        (error: unknown) => {
          if (this.entries.get(tenantId) === entry) this.entries.delete(tenantId);
          this.onLoadError(error, tenantId);
          return this.defaults;
        },
      ),
    };
    this.entries.set(tenantId, entry);
    return entry.rule;
  }

  /** The tenant's settings changed: read them again on its next request. */
  forget(tenantId: string): void {
    this.entries.delete(tenantId);
  }

  private forgetExpired(now: number): void {
    for (const [tenantId, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(tenantId);
  }
}
