/**
 * What a consumer is told of an endpoint's configuration when it is refused or looks the
 * endpoint up: the one place that decides it, for every door (GraphQL, REST, the
 * OpenAI-compatible routes, MCP), since they all refuse through the query service and describe
 * through the askable-endpoints service; `myUsage` names a limit's policy on the same terms.
 *
 * Insiders are the callers who may read the endpoint's tenant's policies anyway (`tenant:read`
 * in that tenant: its members, its API keys, its external identities with a role). They are told
 * everything: which policy refused them (its id, to find it), and every endpoint described.
 *
 * Everyone else (another tenant's member, key or external identity, an anonymous caller) is an
 * outsider, and learns no more than that they may not use the endpoint, and why in words:
 *  - A policy's refusal keeps its code, the policy's type, the reason code, the message and when
 *    to retry, and loses the policy's id: an internal id of the tenant's configuration, which
 *    outsiders have no use for (only the tenant's own API takes it) and which would tell them
 *    which rule turned them away, and when it was replaced. The owner's audit trail and
 *    decision log keep it (query.service.ts writes them from the refusal before it is shown).
 *  - Discovery by address (MCP's `/mcp/{tenant}/{endpoint}` tools) gives a caller the endpoint's
 *    policies turn away whatever it asks (an `access` list, a policy this server cannot read)
 *    the refusal a query would give, in the same words, instead of the endpoint's name and
 *    description. An unlisted endpoint is reached by address only: knowing the address, the
 *    caller learns from a query as much as this; it is never in a list outsiders see (the
 *    catalog and `/v1/models` hold listed endpoints only, `/mcp` the caller's own tenant's).
 */
import { can } from '../access/permissions.js';
import type { Actor } from '../actor.js';
import { policyCaller, type Caller, type ReachedEndpoint } from '../endpoints/endpoint-access.js';
import { CodedError, UnauthenticatedError } from '../errors.js';
import { callerDenial } from './policy-engine.js';

/** Details of a refusal that are ids of the tenant's configuration: shown to insiders only. */
const CONFIGURATION_IDS = new Set(['policyId']);

/** Whether `actor` may read the configuration (policies included) of the tenant `tenantId`. */
export function isInsiderOf(actor: Actor, tenantId: string): boolean {
  return actor.tenantId === tenantId && can(actor, 'tenant:read');
}

/** A refusal by `tenantId`'s endpoint as `actor` is shown it: without configuration ids for an outsider. */
export function refusalShownTo<E>(actor: Actor, tenantId: string, error: E): E | CodedError {
  if (!(error instanceof CodedError) || isInsiderOf(actor, tenantId)) return error;
  if (!Object.keys(error.details).some((key) => CONFIGURATION_IDS.has(key))) return error;
  const details = Object.fromEntries(Object.entries(error.details).filter(([key]) => !CONFIGURATION_IDS.has(key)));
  // The same error (class, code, message, status) with those details left out; the original
  // stays whole for the audit trail that was written from it.
  const shown: CodedError = Object.create(Object.getPrototypeOf(error) as object);
  return Object.assign(shown, error, { message: error.message, stack: error.stack, details });
}

/**
 * What discovery answers instead of describing the reached endpoint to the caller; null when it
 * may be described (an insider, or a caller its policies would judge query by query). The
 * endpoint must have been read with its enabled policies. Nothing is recorded: looking is not asking.
 */
export function discoveryRefusal(actor: Actor, caller: Caller, reached: Pick<ReachedEndpoint, 'endpoint' | 'tenantId'>, now: Date): CodedError | null {
  const { endpoint, tenantId } = reached;
  if (isInsiderOf(actor, tenantId)) return null;
  // What a query would answer first (anonymous-callers.ts), without taking from the address's bucket.
  if (actor.kind === 'anonymous' && !endpoint.allowAnonymous) {
    return new UnauthenticatedError('This endpoint does not admit anonymous callers: sign in or use an API key', { reason: 'ANONYMOUS_NOT_ALLOWED' });
  }
  if (!endpoint.enabledPolicies) throw new Error('discoveryRefusal needs the endpoint read with its policies');
  const denial = callerDenial({ now, endpoint: { id: endpoint.id, slug: endpoint.slug, tenantId }, caller: policyCaller(actor, caller, tenantId) }, endpoint.enabledPolicies);
  return denial ? refusalShownTo(actor, tenantId, denial) : null;
}
