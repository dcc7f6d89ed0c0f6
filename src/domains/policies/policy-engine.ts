/**
 * Evaluates an endpoint's enabled policies for one query and records the decision.
 *
 * In the caller's transaction, bound to the endpoint's tenant: the policies; when there are
 * any, an advisory lock on the endpoint (so two queries cannot both take the last slot of a
 * rate limit or quota, on any instance: held to the transaction's end), one batched read of
 * the facts they need (facts.ts), every verdict, and one decision row. A denial is thrown by
 * the caller only after that row is committed: the refusal is on record, and rate limits and
 * content-guard blocks count those rows. An endpoint without policies is let through with
 * nothing recorded and nothing locked. Quotas count usage records: the caller writes an admitted
 * query's flat charge (Admission.flatMicros) as its record in this transaction, under the lock.
 * A content guard's violations are written here, always: the guard counts them. Any other
 * denial's row is returned (`PolicyOutcome.denial`) for the caller to write after the
 * transaction, if the refusal log's flood limit lets it (a caller at a rate limit or quota is
 * refused at once however fast it asks): no policy counts those rows, and the flood limit asks
 * the bucket store (Redis), which must not be awaited under the lock.
 */
import type { RequiredEntityData } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import { PolicyDeniedError, RateLimitedError, type CodedError } from '../errors.js';
import { readFacts } from './facts.js';
import { PolicyDecision } from './policy-decision.entity.js';
import { Policy } from './policy.entity.js';
import { policyType, type Fact, type FactRequest, type PolicyCall, type PolicyType, type Usage, type Verdict } from './policy-type.js';
import './types/index.js';

export interface Admission {
  /**
   * The accounting policies' flat charge, known before the query runs: the caller reserves it
   * in the deciding transaction (endpoint-queries/usage-writer.ts), so the quotas count a query
   * from its admission, not from its answer.
   */
  flatMicros: number;
  /** What the accounting policies charge for a query that used `usage` (the flat part included). */
  charge(usage: Usage): number;
}

const NOTHING_CHARGED: Admission = { flatMicros: 0, charge: () => 0 };
const NO_FACTS: Fact = { count: 0, total: 0, oldest: null, times: [] };

/** What evaluating a policy needs of it: a stored Policy, or the row the query path read with its endpoint. */
export type PolicyRule = Pick<Policy, 'id' | 'type' | 'configuration'>;

interface Evaluated {
  policy: PolicyRule;
  type: PolicyType | undefined;
  config: unknown;
  verdict: Verdict;
}

/** A decision row, as written. */
export type DecisionRow = RequiredEntityData<PolicyDecision>;
/** A DENY row the caller writes after the deciding transaction, if the flood limit lets it. */
export type DenialRow = DecisionRow & { decision: 'DENY' };

/** The policies' decision on one query: how to charge it, or the denial to throw once its row is committed. */
export interface PolicyOutcome {
  admission: Admission;
  denial: Error | null;
  /** The endpoint's advisory lock is held until the transaction ends (there were policies). */
  locked: boolean;
  /** The denial's row, not written yet: the caller writes it after the transaction (or counts it, over the flood limit). */
  unwritten: DenialRow | null;
}

/** The reason codes of a content guard's violations: its block counts their rows (facts.ts). */
const isViolation = (reasonCode: string) => reasonCode.startsWith('CONTENT_');

/**
 * Decides the query in `tx` (see above); the caller commits, then throws `denial` if any.
 * `enabled` are the endpoint's enabled policies, oldest first, when the caller has read them
 * already (with the endpoint, in one statement); otherwise they are read here.
 */
export async function decidePolicies(
  tx: EntityManager,
  call: PolicyCall,
  operationHash: string | null,
  enabled?: readonly PolicyRule[],
): Promise<PolicyOutcome> {
  const policies = enabled ?? (await tx.find(Policy, { endpoint: call.endpoint.id, enabled: true }, { orderBy: { createdAt: 'asc', id: 'asc' } }));
  if (policies.length === 0) return { admission: NOTHING_CHARGED, denial: null, locked: false, unwritten: null };
  await boundSql(tx, 'select pg_advisory_xact_lock(hashtextextended(?, 0))', [call.endpoint.id]);
  const evaluated = await evaluate(tx, call, policies);
  const denial = evaluated.find((entry) => entry.verdict.decision === 'DENY');
  const flatMicros = evaluated.reduce((sum, { type, config }) => sum + (type?.flatCharge?.(config) ?? 0), 0);
  const row: DecisionRow = {
    tenant: call.endpoint.tenantId,
    endpointId: call.endpoint.id,
    endpointSlug: call.endpoint.slug,
    decision: denial ? 'DENY' : 'ALLOW',
    policyId: denial?.policy.id ?? null,
    policyType: denial?.policy.type ?? null,
    rule: denial ? denial.verdict.rule.slice(0, 255) : null,
    reasonCode: denial?.verdict.decision === 'DENY' ? denial.verdict.reasonCode : null,
    reason: denial?.verdict.decision === 'DENY' ? denial.verdict.reason : null,
    retryAfterSeconds: denial?.verdict.decision === 'DENY' ? (denial.verdict.retryAfterSeconds ?? null) : null,
    verdicts: evaluated.map(({ policy, verdict }) => ({
      policyId: policy.id,
      type: policy.type,
      decision: verdict.decision,
      rule: verdict.rule,
      ...(verdict.decision === 'DENY' ? { reasonCode: verdict.reasonCode } : {}),
    })),
    callerTenantId: call.caller.tenantId,
    callerKind: call.caller.kind,
    callerId: call.caller.id,
    operationHash,
    costMicros: flatMicros,
    createdAt: call.now,
  };
  if (denial?.verdict.decision === 'DENY') {
    const error = denialError(denial.policy, denial.verdict);
    if (!isViolation(denial.verdict.reasonCode)) return { admission: NOTHING_CHARGED, denial: error, locked: true, unwritten: { ...row, decision: 'DENY' } };
    tx.create(PolicyDecision, row);
    return { admission: NOTHING_CHARGED, denial: error, locked: true, unwritten: null };
  }
  tx.create(PolicyDecision, row);
  return {
    admission: { flatMicros, charge: (usage) => evaluated.reduce((sum, { type, config }) => sum + (type?.charge?.(config, usage) ?? 0), 0) },
    denial: null,
    locked: true,
    unwritten: null,
  };
}

/** A policy with its type and configuration read, and the facts it asked for. */
export interface PolicyState {
  policy: PolicyRule;
  /** Undefined when this version cannot read the stored type or configuration. */
  type: PolicyType | undefined;
  config: unknown;
  facts: Record<string, Fact>;
}

/** Reads the facts every policy needs, in one statement. */
export async function readPolicyStates(tx: EntityManager, call: PolicyCall, policies: readonly PolicyRule[]): Promise<PolicyState[]> {
  const typed = policies.map((policy) => {
    const type = policyType(policy.type);
    const parsed = type?.configSchema.safeParse(policy.configuration);
    const config = parsed?.success ? parsed.data : undefined;
    return { policy, type: parsed?.success ? type : undefined, config, wants: (parsed?.success && type?.facts?.(config, call)) || {} };
  });
  const requests = new Map<string, FactRequest>();
  for (const { policy, wants } of typed) for (const [key, request] of Object.entries(wants)) requests.set(`${policy.id}/${key}`, request);
  const facts = await readFacts(tx, call, requests);
  return typed.map(({ policy, type, config, wants }) => ({
    policy,
    type,
    config,
    facts: Object.fromEntries(Object.keys(wants).map((key) => [key, facts.get(`${policy.id}/${key}`) ?? NO_FACTS])),
  }));
}

/** Every policy's verdict, the types that take precedence first. */
async function evaluate(tx: EntityManager, call: PolicyCall, policies: readonly PolicyRule[]): Promise<Evaluated[]> {
  return (await readPolicyStates(tx, call, policies))
    .map(({ policy, type, config, facts }) => {
      const verdict: Verdict = type ? type.evaluate(config, call, facts) : unreadable(policy);
      return { policy, type, config, verdict };
    })
    .sort(byPrecedence);
}

/**
 * The refusal every query of this caller would meet, whatever it asked and whenever: the first
 * denial of the policies that judge the caller alone (`access`), or of a policy this server
 * cannot read (it refuses every query). Null when only a query could be refused (a rate limit,
 * a content guard). Nothing is read or recorded: discovery (what a listing says of an endpoint)
 * asks it, and a caller who only looks has not asked anything.
 */
export function callerDenial(call: Omit<PolicyCall, 'query'>, policies: readonly PolicyRule[]): CodedError | null {
  const denial = policies
    .map((policy) => {
      const type = policyType(policy.type);
      const parsed = type?.configSchema.safeParse(policy.configuration);
      if (!type || !parsed?.success) return { policy, type: undefined, config: undefined, verdict: unreadable(policy) };
      const verdict: Verdict = type.judgesCallerAlone ? type.evaluate(parsed.data, { ...call, query: '' }, {}) : { decision: 'ALLOW', rule: 'judges queries' };
      return { policy, type, config: parsed.data, verdict };
    })
    .sort(byPrecedence)
    .find((entry) => entry.verdict.decision === 'DENY');
  return denial && denial.verdict.decision === 'DENY' ? denialError(denial.policy, denial.verdict) : null;
}

/** A stored policy whose type or configuration this version cannot read fails closed. */
function unreadable(policy: PolicyRule): Verdict {
  return { decision: 'DENY', code: 'POLICY_DENIED', reasonCode: 'POLICY_UNREADABLE', rule: `unreadable ${policy.type} policy`, reason: 'The endpoint has a policy this server cannot evaluate' };
}

const byPrecedence = (a: Evaluated, b: Evaluated) => (a.type?.precedence ?? 0) - (b.type?.precedence ?? 0);

function denialError(policy: PolicyRule, verdict: Extract<Verdict, { decision: 'DENY' }>) {
  const details = { policyId: policy.id, policyType: policy.type, reason: verdict.reasonCode };
  if (verdict.code === 'RATE_LIMITED') return new RateLimitedError(verdict.reason, verdict.retryAfterSeconds ?? 1, details);
  return new PolicyDeniedError(verdict.reason, details);
}
