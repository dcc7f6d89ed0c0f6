/**
 * Reaching an endpoint as a caller, by `tenantSlug/endpointSlug`: the one cross-tenant step.
 *
 * The endpoint is found with one SECURITY DEFINER lookup that returns only its id, tenant and
 * published flag. The caller may use it when it is their tenant's or published; anything else
 * is NOT_FOUND, exactly like a missing one. An anonymous caller has no tenant: it reaches
 * published endpoints only (whether the endpoint admits anonymous callers is decided after,
 * by the query path, which records that refusal). Only then does the caller's scope cross to
 * the publisher's tenant (`crossToPublisherOf`, the one named cross-tenant hop: ORM filter and
 * RLS bound there) and read the endpoint: everything done for the caller after this runs there.
 * `reachEndpointAnd` goes on in the transaction that read the endpoint, and can read the
 * endpoint's enabled policies in the same statement (endpoint-read.ts: one prepared statement,
 * plain values, no entities).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ipIdentity } from '../../platform/rate-limits/bucket-keys.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Actor } from '../actor.js';
import type { ServiceContext } from '../service-context.js';
import { readEndpoint, type ReadEndpoint } from './endpoint-read.js';

const ENDPOINT_REF = /^([a-z0-9-]{1,64})\/([a-z0-9-]{3,64})$/;

export interface ReachedEndpoint {
  /** Bound to the endpoint's tenant; no transaction open. */
  em: EntityManager;
  endpoint: ReadEndpoint;
  tenantId: string;
}

export async function reachEndpoint(ctx: ServiceContext, endpointRef: string): Promise<ReachedEndpoint> {
  return reachEndpointAnd(ctx, endpointRef, (_tx, reached) => reached);
}

/**
 * Reaches the endpoint and runs `work` in the same transaction as the endpoint's read, bound
 * to its tenant: the query path reads the endpoint, decides its policies and (for keyword
 * retrieval) ranks the passages in one transaction instead of one each.
 */
export async function reachEndpointAnd<T>(
  ctx: ServiceContext,
  endpointRef: string,
  work: (tx: EntityManager, reached: ReachedEndpoint) => Promise<T> | T,
  options: {
    withPolicies?: boolean;
    /**
     * Runs once the caller may reach the endpoint, before its transaction opens: for what must
     * not be awaited holding a pooled connection (a bucket store, which may be Redis).
     */
    beforeTransaction?: (endpointId: string) => Promise<void>;
  } = {},
): Promise<T> {
  const { actor } = ctx;
  const ref = ENDPOINT_REF.exec(endpointRef.trim());
  if (!ref) throw new ValidationError('endpoint must be "tenant-slug/endpoint-slug"', { field: 'endpoint' });
  // Outside any transaction (the lookup is SECURITY DEFINER: it needs no tenant bound).
  const [found] = await ctx.em
    .getConnection()
    .execute<{ endpoint_id: string; tenant_id: string; published: boolean }[]>(
      'select endpoint_id, tenant_id, published from resolve_endpoint(?, ?)',
      [ref[1], ref[2]],
      'all',
      ctx.em.getTransactionContext(),
    );
  if (!found || (found.tenant_id !== actor.tenantId && !found.published)) throw new NotFoundError('Endpoint');
  await options.beforeTransaction?.(found.endpoint_id);

  const { em } = ctx.scope.crossToPublisherOf(found.tenant_id);
  return em.transactional(async (tx) => {
    // With its enabled policies when the caller decides them (the query path): same statement.
    const endpoint = await readEndpoint(tx as EntityManager, found.tenant_id, found.endpoint_id, options);
    if (!endpoint) throw new NotFoundError('Endpoint');
    return work(tx as EntityManager, { em, endpoint, tenantId: found.tenant_id });
  });
}

/** How usage records and policy decisions name a caller. */
export interface Caller {
  /** Null for anonymous callers. */
  callerTenantId: string | null;
  callerKind: 'user' | 'apiKey' | 'external' | 'anonymous';
  callerId: string;
}

/**
 * The caller as policies see it (PolicyCall.caller). Its email counts for an allow list only
 * where the endpoint's tenant vouches for it: a member of that tenant signed in to it (the
 * tenant invited that address), or an identity from a provider that tenant registered (whose
 * verified email claim it chose to trust). Sluice verifies no address itself: anyone may sign
 * up as ceo@victim.example, and any tenant may register a provider that says so; such an email
 * admitted them to another tenant's allow list (an attacker review found both). A deny list
 * matches any email the caller claims: claiming one can only get the claimer refused.
 */
export function policyCaller(actor: Actor, caller: Caller, endpointTenantId: string) {
  const vouched = (actor.kind === 'user' || actor.kind === 'external') && actor.tenantId === endpointTenantId;
  return { tenantId: caller.callerTenantId, kind: caller.callerKind, id: caller.callerId, email: vouched ? actor.email : null, claimedEmail: actor.email };
}

/**
 * The request's caller, any tenant's. An anonymous caller is its address (IPv6: its /64, as
 * the per-address limit counts it), kept as a keyed digest: comparable for per-caller limits
 * and "which caller was refused", never the address itself (personal data). The digest's key
 * comes from the master key, so rotating that key starts anonymous callers afresh.
 */
export function callerOf(ctx: Pick<ServiceContext, 'actor' | 'deps' | 'request'>): Caller {
  const { actor } = ctx;
  if (actor.kind === 'anonymous') {
    const address = ipIdentity(ctx.request?.ip ?? 'unknown');
    return { callerTenantId: null, callerKind: 'anonymous', callerId: ctx.deps.secrets.digest('anonymous caller', address).digest.slice(0, 32) };
  }
  const callerId = actor.kind === 'user' ? actor.userId : actor.kind === 'apiKey' ? actor.apiKeyId : `${actor.issuer}#${actor.subject}`;
  return { callerTenantId: actor.tenantId, callerKind: actor.kind, callerId: callerId.slice(0, 255) };
}
