import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';

/**
 * The outcome of evaluating an endpoint's policies for one query, owned by the endpoint's
 * tenant and append-only: ALLOW or DENY, the policy and rule that decided (none for an
 * allow), every policy's verdict, who asked, what they sent (a hash) and what it was
 * expected to cost. Rate limits and content-guard blocks count these rows, so they are the
 * record of truth for "why was this caller refused" and for the limits themselves.
 */
export const PolicyDecision = defineTenantOwnedEntity({
  name: 'PolicyDecision',
  tableName: 'policy_decisions',
  properties: (p) => ({
    /** No foreign key: the record outlives the endpoint and the policy. */
    endpointId: p.uuid(),
    endpointSlug: p.string().length(64),
    decision: p.string().length(8),
    policyId: p.uuid().nullable(),
    policyType: p.string().length(32).nullable(),
    /** The rule that decided, in words (`deny *@example.com`, `5 per 60 s per_user`). */
    rule: p.string().length(255).nullable(),
    /** Stable: ACCESS_DENIED, NOT_ALLOWED, RATE_LIMIT, QUOTA, CONTENT_*, BLOCKED. */
    reasonCode: p.string().length(32).nullable(),
    reason: p.text().nullable(),
    /** Each evaluated policy: `{policyId, type, decision, rule, reasonCode}`. */
    verdicts: p.json<unknown[]>(),
    /** Null for anonymous callers (kind `anonymous`, id a keyed digest of their address). */
    callerTenantId: p.uuid().nullable(),
    callerKind: p.string().length(16),
    callerId: p.string().length(255),
    operationHash: p.string().length(64).nullable(),
    /** The accounting policies' flat charge for the query, known before it runs. */
    costMicros: p.bigint('number').default(0),
    retryAfterSeconds: p.integer().nullable(),
    createdAt: p.datetime(),
  }),
  indexes: [
    { properties: ['tenant', 'createdAt', 'id'] },
    { properties: ['endpointId', 'createdAt'] },
    { properties: ['endpointId', 'callerId', 'createdAt'] },
  ],
});
export type PolicyDecision = InferEntity<typeof PolicyDecision>;
