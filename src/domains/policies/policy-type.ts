/**
 * Policy types: what an endpoint's policies can be. Each type is one file under types/ that
 * calls `registerPolicyType` (types/index.ts imports them): a name, a zod schema for its
 * configuration, the facts it needs (read for all of a query's policies in one statement,
 * see facts.ts) and an evaluator that turns configuration + facts into a verdict.
 */
import type { z } from 'zod';

/** per_user: each caller (each anonymous address); per_tenant: each caller's tenant (anonymous callers together); global: everyone. */
export type Scope = 'per_user' | 'per_tenant' | 'global';
export const SCOPES = ['per_user', 'per_tenant', 'global'] as const;

/** Who asks which endpoint what, and when. */
export interface PolicyCall {
  now: Date;
  endpoint: { id: string; slug: string; tenantId: string };
  /**
   * `tenantId` null and kind `anonymous` for a caller with no credential. `email` is the
   * caller's email only where the endpoint's tenant vouches for it (endpoint-access.ts,
   * `policyCaller`); `claimedEmail` is whatever email the credential carries, vouched or not.
   */
  caller: { tenantId: string | null; kind: string; id: string; email: string | null; claimedEmail: string | null };
  /** The query text as sent (trimmed); policies judge it before anything else does. */
  query: string;
}

/** A fact about the past, counted over the endpoint's decisions and usage since `since`. */
export type FactRequest =
  /** Queries let through (ALLOW decisions) by the caller, the caller's tenant, or anyone. */
  | { kind: 'allowed'; scope: Scope; since: Date }
  /** What the accounting policies charged. */
  | { kind: 'charged'; scope: Scope; since: Date }
  /** The caller's content-guard violations, with their times. */
  | { kind: 'violations'; since: Date };

export interface Fact {
  count: number;
  /** Sum of charged micro-units (`charged` only). */
  total: number;
  /** The oldest row counted: when the window starts to free up. */
  oldest: Date | null;
  /** Times of the rows counted (`violations` only). */
  times: Date[];
}

export type Verdict =
  | { decision: 'ALLOW'; rule: string }
  | {
      decision: 'DENY';
      rule: string;
      /** POLICY_DENIED (not allowed) or RATE_LIMITED (not now). */
      code: 'POLICY_DENIED' | 'RATE_LIMITED';
      /** Stable, for clients and the decision log: ACCESS_DENIED, RATE_LIMIT, QUOTA, CONTENT_*, BLOCKED. */
      reasonCode: string;
      reason: string;
      retryAfterSeconds?: number;
    };

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface Allowance {
  /** What the limit counts: QUERIES or MICROS (charged micro-units). */
  unit: 'QUERIES' | 'MICROS';
  limit: number;
  used: number;
  periodSeconds: number;
  /** When the oldest counted use leaves the window, if any counts. */
  freesAt: Date | null;
}

export interface PolicyType<Config = any> {
  /** The `type` clients give. */
  name: string;
  description: string;
  /** Validates configuration; defaults filled in are what is stored. */
  configSchema: z.ZodType<Config>;
  /** Lower runs first and names the denial when several policies deny. */
  precedence: number;
  /**
   * Its verdict depends on who calls alone, never on the query or the past (`access`): discovery
   * asks it, with no query and no facts, whether to describe the endpoint to a caller
   * (policy-engine.ts, `callerDenial`).
   */
  judgesCallerAlone?: boolean;
  /** The facts `evaluate` needs, by a key of the type's choosing. */
  facts?(config: Config, call: PolicyCall): Record<string, FactRequest>;
  evaluate(config: Config, call: PolicyCall, facts: Record<string, Fact>): Verdict;
  /** How much of a limit the caller has used (rate limits, quotas), for `myUsage`. */
  allowance?(config: Config, facts: Record<string, Fact>, now: Date): Allowance | undefined;
  /** Charged whatever the answer costs, known before the query runs (accounting). */
  flatCharge?(config: Config): number;
  /** The whole charge, once the model has answered (accounting). */
  charge?(config: Config, usage: Usage): number;
}

const types = new Map<string, PolicyType>();

export function registerPolicyType<Config>(type: PolicyType<Config>): void {
  if (types.has(type.name)) throw new Error(`policy type ${type.name} is registered twice`);
  types.set(type.name, type);
}

export function policyType(name: string): PolicyType | undefined {
  return types.get(name);
}

export function policyTypes(): PolicyType[] {
  return [...types.values()].sort((a, b) => a.precedence - b.precedence);
}

/** Seconds until `oldest` leaves a window of `periodSeconds`, at least 1. */
export function secondsUntilFree(oldest: Date | null, periodSeconds: number, now: Date): number {
  if (!oldest) return 1;
  return Math.max(1, Math.ceil((oldest.getTime() + periodSeconds * 1000 - now.getTime()) / 1000));
}

export function windowStart(now: Date, seconds: number): Date {
  return new Date(now.getTime() - seconds * 1000);
}
