/**
 * Refusals that are not an endpoint policy's, in the endpoint's decision log: the platform's
 * own rules a consumer meets when asking (anonymous callers not admitted, the per-address
 * limit on anonymous queries, the per-caller request limit, the caller tenant's IP allow-list).
 * The policies record their own refusals (policies/policy-engine.ts); together they answer
 * "why was this caller refused" for the endpoint's owner.
 *
 * Written only for an endpoint the caller reached (its tenant's, or published): a caller that
 * could not see the endpoint gets NOT_FOUND and leaves nothing in that tenant's log.
 *
 * Refused at once however fast the caller asks, a refusal's rows (the DENY row and its
 * `policy.denied` event), the policies' refusals too, go through the refusal log's flood limit
 * (domains/identity/refused-credentials.ts: per endpoint tenant and caller, or address for an
 * anonymous caller, and per tenant): over it they are counted in the tenant's
 * `auth.refusals_suppressed` summary as `policy.denied:<endpoint slug>:<reason code>`. The flood
 * limit is asked, and the DENY row written, once the transaction that read the endpoint (and
 * decided its policies, under their lock) has ended: `recordDenial`.
 */
import { CodedError } from '../errors.js';
import { auditActorOf, auditEvent } from '../audit/record.js';
import type { Caller, ReachedEndpoint } from '../endpoints/endpoint-access.js';
import { PolicyDecision } from '../policies/policy-decision.entity.js';
import type { DenialRow } from '../policies/policy-engine.js';
import type { ServiceContext } from '../service-context.js';

/** The reason codes of platform refusals (beside the policies' ACCESS_DENIED, RATE_LIMIT, …). */
export type PlatformReason = 'ANONYMOUS_NOT_ALLOWED' | 'ADDRESS_RATE_LIMIT' | 'CALLER_RATE_LIMIT' | 'IP_NOT_ALLOWED' | (string & {});

export interface PlatformRefusal {
  /** The client's error code: UNAUTHENTICATED, RATE_LIMITED, FORBIDDEN. */
  code: string;
  reasonCode: PlatformReason;
  /** The rule that decided, in words. */
  rule: string;
  reason: string;
  retryAfterSeconds: number | null;
}

/**
 * The refusal's DENY row, decided in the transaction that read the endpoint: `recordDenial`
 * writes it once that transaction has ended.
 */
export function platformDenial(ctx: ServiceContext, reached: Pick<ReachedEndpoint, 'endpoint' | 'tenantId'>, caller: Caller, refusal: PlatformRefusal): DenialRow {
  const { endpoint, tenantId } = reached;
  return {
    tenant: tenantId,
    endpointId: endpoint.id,
    endpointSlug: endpoint.slug,
    decision: 'DENY',
    policyId: null,
    policyType: null,
    rule: refusal.rule.slice(0, 255),
    reasonCode: refusal.reasonCode.slice(0, 32),
    reason: refusal.reason,
    retryAfterSeconds: refusal.retryAfterSeconds,
    // No policy ran: nothing to list, nothing charged.
    verdicts: [],
    costMicros: 0,
    ...caller,
    operationHash: ctx.request?.operationHash ?? null,
    createdAt: ctx.deps.clock.now(),
  };
}

/**
 * Writes a refusal's DENY row in `reached`'s decision log if the flood limit lets it (false: it
 * was counted instead), in a short transaction of its own. Call it with no transaction of the
 * endpoint's open: the flood limit asks the bucket store (Redis when configured), and awaited
 * under the policies' advisory lock a slow one queued every query on the endpoint behind it,
 * each holding a pooled connection. Nothing counts these rows (rate limits count ALLOWs, a
 * content guard its violations, which the policies write under the lock): written after the
 * decision committed, they change no other query's decision. Audit it then (`auditPlatformRefusal`).
 */
export async function recordDenial(ctx: ServiceContext, reached: Pick<ReachedEndpoint, 'em' | 'endpoint' | 'tenantId'>, row: DenialRow): Promise<boolean> {
  if (!(await mayRecordRefusal(ctx, reached, row.reasonCode ?? 'DENY'))) return false;
  await reached.em.transactional((tx) => void tx.create(PolicyDecision, row));
  return true;
}

/** A refusal the caller met, and its DENY row, to write once the endpoint's transaction has ended (`recordDenial`). */
export interface PendingRefusal<E extends CodedError = CodedError> {
  error: E;
  denial: DenialRow;
}

/**
 * Whether a refusal's rows may be written in `reached`'s decision log and trail; false: the
 * refusal log's flood limit counted it instead (see above).
 */
export function mayRecordRefusal(ctx: ServiceContext, reached: Pick<ReachedEndpoint, 'endpoint' | 'tenantId'>, reasonCode: string): Promise<boolean> {
  const limit = ctx.deps.limitedRefusals;
  if (!limit) return Promise.resolve(true);
  return limit.mayRecordDecision(reached.tenantId, `policy.denied:${reached.endpoint.slug}:${reasonCode}`, auditActorOf(ctx.actor, reached.tenantId), ctx.request?.ip ?? null, ctx.actor.tenantId);
}

/** The refusal on the endpoint owner's audit trail, where its operators look (like a policy's `policy.denied`). */
export function auditPlatformRefusal(ctx: ServiceContext, reached: Pick<ReachedEndpoint, 'endpoint' | 'tenantId'>, code: string, reasonCode: string): void {
  const { endpoint, tenantId } = reached;
  auditEvent(ctx, {
    tenantId,
    action: 'policy.denied',
    outcome: code,
    details: { endpoint: endpoint.id, endpointSlug: endpoint.slug, policyId: null, policyType: null, reason: reasonCode },
  });
}

/** Default rule texts of the refusals a door or plugin reports without one. */
const DEFAULT_RULES: Record<string, string> = {
  CALLER_RATE_LIMIT: 'per-caller request limit',
  IP_NOT_ALLOWED: 'the caller tenant’s IP allow-list',
};

/**
 * What a refusal met before the query service ran (the per-caller limit, the IP allow-list)
 * says in the decision log; undefined for what is never recorded: NOT_FOUND (the caller did
 * not reach the endpoint), BAD_USER_INPUT (nothing was asked) and unexpected errors.
 */
export function platformRefusalOf(error: unknown, rule?: string): PlatformRefusal | undefined {
  if (!(error instanceof CodedError) || error.code === 'NOT_FOUND' || error.code === 'BAD_USER_INPUT') return undefined;
  const named = typeof error.details.reason === 'string' ? error.details.reason : undefined;
  const reasonCode = named ?? (error.code === 'RATE_LIMITED' ? 'CALLER_RATE_LIMIT' : error.code);
  const retryAfter = error.details.retryAfterSeconds;
  return {
    code: error.code,
    reasonCode,
    rule: rule ?? DEFAULT_RULES[reasonCode] ?? reasonCode.toLowerCase(),
    reason: error.message,
    retryAfterSeconds: typeof retryAfter === 'number' ? retryAfter : null,
  };
}
