/**
 * The per-principal limit (user, API key or external identity, within its tenant), one
 * instance per server shared by every door: GraphQL (plugins/principal-rate-limit.ts) and the
 * consumer routes (routes/consumer-door.ts) take from the same buckets under the same rule, so
 * a caller cannot double its allowance by switching surfaces. The tenant's own settings
 * (`updateTenantSettings`: rateLimitPerSecond, rateLimitBurst) override the server default.
 */
import { bucketKey, principalOf, type Principal } from './bucket-keys.js';
import { rateLimited } from './refusal.js';
import { TenantRules, type RuleOverride } from './tenant-rules.js';
import type { BucketRule, BucketStore } from './token-bucket.js';
import { RateLimitedError } from '../errors/index.js';

export interface PrincipalLimitOptions {
  buckets: BucketStore;
  /** The server default per principal. @default { perSecond: 10, burst: 20 } */
  rule?: BucketRule;
  /** How long a tenant's override is reused before it is read again. @default 5000 */
  overrideTtlMs?: number;
  /** Told when a tenant's override could not be read; the default applies meanwhile. */
  onOverrideError: (error: unknown, tenantId: string) => void;
}

export class PrincipalLimit {
  private readonly rules: TenantRules;
  private readonly buckets: BucketStore;

  constructor({ buckets, rule = { perSecond: 10, burst: 20 }, overrideTtlMs = 5_000, onOverrideError }: PrincipalLimitOptions) {
    this.buckets = buckets;
    this.rules = new TenantRules(rule, overrideTtlMs, onOverrideError);
  }

  /**
   * Takes `requests` (default 1: a GraphQL operation asking several endpoint queries counts as
   * that many) from the caller's bucket, all or none: null when allowed, else the refusal.
   * Anonymous callers have no principal (the per-address limit covers them).
   */
  async take(actor: Principal & { tenantId?: string | null }, loadOverride: () => Promise<RuleOverride>, requests = 1): Promise<RateLimitedError | null> {
    const principal = principalOf(actor);
    if (!principal || !actor.tenantId) return null;
    const rule = await this.rules.ruleFor(actor.tenantId, loadOverride);
    const result = await this.buckets.take(bucketKey('principal', principal), rule, requests);
    if (result.allowed) return null;
    const refused = rateLimited('requests', result);
    // Waiting never lets through more than the burst at once: say so rather than have the client retry for ever.
    if (requests > rule.burst) {
      return new RateLimitedError(`This operation counts as ${requests} requests (one per endpoint query) and the caller limit allows ${rule.burst} at once: send fewer endpoint queries per operation`, Number(refused.details.retryAfterSeconds));
    }
    return refused;
  }

  /** The rule a refusal came from, in words, for the endpoint decision log: `20 at once, 10 per second per caller`. */
  async describe(actor: Principal & { tenantId?: string | null }, loadOverride: () => Promise<RuleOverride>): Promise<string> {
    const rule = actor.tenantId ? await this.rules.ruleFor(actor.tenantId, loadOverride) : undefined;
    return rule ? `caller: ${rule.burst} at once, ${rule.perSecond} per second` : 'caller: request limit';
  }

  /** The tenant's settings changed: read them again on its next request. */
  forget(tenantId: string): void {
    this.rules.forget(tenantId);
  }
}
