/**
 * The rate limits a consumer of a catalog entry meets, in the words the catalog shows them:
 * the server's limits (per address; per caller, which the caller's own tenant may override)
 * and the endpoint's enabled `rate_limit` policies. Read-only descriptions: the limits
 * themselves are enforced where they always were (plugins/ip-rate-limit.ts,
 * platform/rate-limits/principal-limit.ts, policies/types/rate-limit.ts).
 */
import type { Actor } from '../actor.js';
import type { BucketRule } from '../../platform/rate-limits/token-bucket.js';

/** Who shares one allowance. */
export const RATE_LIMIT_SUBJECTS = ['ADDRESS', 'CALLER', 'CALLER_TENANT', 'EVERYONE'] as const;
export type RateLimitSubject = (typeof RATE_LIMIT_SUBJECTS)[number];

/** Where a limit is set: the server's settings, the caller's tenant's settings, or one of the endpoint's policies. */
export const RATE_LIMIT_SOURCES = ['SERVER', 'TENANT_SETTINGS', 'ENDPOINT_POLICY'] as const;
export type RateLimitSource = (typeof RATE_LIMIT_SOURCES)[number];

export interface CatalogRateLimit {
  per: RateLimitSubject;
  source: RateLimitSource;
  /** At most this many requests (queries, for policies) per `periodSeconds`… */
  requests: number;
  periodSeconds: number;
  /** …with bursts up to this many at once (token buckets); null for a sliding window. */
  burst: number | null;
  /** The same, as people read it: "5 per 60 s per caller". */
  rule: string;
}

/** The server's request limits, as configured. */
export interface ServerRequestLimits {
  /** Per address and per caller: absent when rate limits are off (SLUICE_RATE_LIMITS=off). */
  perIp?: BucketRule;
  perPrincipal?: BucketRule;
  /**
   * Anonymous queries per address and endpoint (always on), shown on entries that admit
   * anonymous callers.
   */
  anonymousPerAddress?: { requests: number; periodSeconds: number; burst: number | null };
}

/** A tenant's own per-caller values (updateTenantSettings); null ones fall back to the server's. */
export type CallerRuleOverride = { perSecond: number | null; burst: number | null } | null;

/** One enabled rate_limit policy's configuration, as catalog_entries returns it. */
export interface PolicyRateLimit {
  requestsPerPeriod: number;
  periodSeconds: number;
  scope: string;
}

const POLICY_SCOPES: Record<string, RateLimitSubject> = { per_user: 'CALLER', per_tenant: 'CALLER_TENANT', global: 'EVERYONE' };
const SUBJECT_WORDS: Record<RateLimitSubject, string> = {
  ADDRESS: 'per address',
  CALLER: 'per caller',
  CALLER_TENANT: "per caller's tenant",
  EVERYONE: 'for all callers together',
};

/**
 * The limits the server itself applies to the caller, whatever the endpoint: per address
 * for everyone, per caller for a credential. The per-caller limit is the caller's own
 * tenant's override where it set one (PrincipalLimit keys it on the caller's tenant, not the
 * endpoint's); an anonymous caller is shown the server default, what a credential of a
 * tenant without an override meets.
 */
export function serverLimits(limits: ServerRequestLimits | undefined, actor: Actor, override: CallerRuleOverride): CatalogRateLimit[] {
  if (!limits?.perIp || !limits.perPrincipal) return [];
  const own = actor.kind !== 'anonymous' && (override?.perSecond != null || override?.burst != null);
  const perCaller = { perSecond: override?.perSecond ?? limits.perPrincipal.perSecond, burst: override?.burst ?? limits.perPrincipal.burst };
  return [bucketLimit('ADDRESS', 'SERVER', limits.perIp), bucketLimit('CALLER', own ? 'TENANT_SETTINGS' : 'SERVER', perCaller)];
}

/** The per-address limit on anonymous queries, for an endpoint that admits anonymous callers. */
export function anonymousLimits(limits: ServerRequestLimits | undefined): CatalogRateLimit[] {
  const rule = limits?.anonymousPerAddress;
  if (!rule) return [];
  const bursts = rule.burst == null ? '' : `, bursts of ${rule.burst}`;
  return [{ per: 'ADDRESS', source: 'SERVER', ...rule, rule: `${rule.requests} per ${rule.periodSeconds} s per address (anonymous queries${bursts})` }];
}

/** The endpoint's rate_limit policies (a configuration that does not read as one is left out, never guessed). */
export function policyLimits(policies: readonly PolicyRateLimit[]): CatalogRateLimit[] {
  return policies.flatMap((policy) => {
    const per = POLICY_SCOPES[policy.scope];
    if (!per || !Number.isInteger(policy.requestsPerPeriod) || !Number.isInteger(policy.periodSeconds)) return [];
    const rule = `${policy.requestsPerPeriod} per ${policy.periodSeconds} s ${SUBJECT_WORDS[per]}`;
    return [{ per, source: 'ENDPOINT_POLICY' as const, requests: policy.requestsPerPeriod, periodSeconds: policy.periodSeconds, burst: null, rule }];
  });
}

function bucketLimit(per: RateLimitSubject, source: RateLimitSource, rule: BucketRule): CatalogRateLimit {
  return {
    per,
    source,
    requests: rule.perSecond,
    periodSeconds: 1,
    burst: rule.burst,
    rule: `${rule.perSecond} per 1 s ${SUBJECT_WORDS[per]} (bursts of ${rule.burst})`,
  };
}
