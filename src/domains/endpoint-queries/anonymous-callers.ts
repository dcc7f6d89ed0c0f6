/**
 * Who may ask without a credential: an anonymous caller reaches published endpoints only
 * (endpoints/endpoint-access.ts: anything else is NOT_FOUND), and of those only the ones that
 * allow anonymous callers; the rest refuse with UNAUTHENTICATED (reason ANONYMOUS_NOT_ALLOWED),
 * which says what to do without saying more than "published" already does. An admitted
 * anonymous caller then takes a query from its address's bucket for the endpoint (the
 * per-address limit, SLUICE_ANONYMOUS_QUERIES_PER_MINUTE) before the endpoint's policies judge
 * it like any other caller. Both refusals are in the endpoint's decision log.
 */
import type { Caller, ReachedEndpoint } from '../endpoints/endpoint-access.js';
import { RateLimitedError, UnauthenticatedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';
import { platformDenial, type PendingRefusal } from './refusals.js';

/**
 * Takes the anonymous caller's query from its address's bucket for the endpoint: null when
 * allowed, else the refusal. Before the endpoint's transaction opens (the bucket store may be
 * Redis: no pooled connection waits on it), so before the endpoint says whether it admits
 * anonymous callers at all: a token taken for one that does not is a token of a bucket no
 * anonymous query of that address and endpoint can use.
 */
export async function takeAnonymousQuery(ctx: ServiceContext, endpointId: string): Promise<RateLimitedError | null> {
  const limit = ctx.deps.anonymousQueries;
  return (limit && (await limit.take(ctx.request?.ip ?? 'unknown', endpointId))) || null;
}

/**
 * Null when the anonymous caller may go on to the policies; else the refusal and its DENY row,
 * for the caller to write once the transaction that read the endpoint has ended
 * (refusals.ts, `recordDenial`), then throw. `overLimit`: what `takeAnonymousQuery` said.
 */
export function anonymousRefusal(ctx: ServiceContext, reached: ReachedEndpoint, caller: Caller, overLimit: RateLimitedError | null): PendingRefusal | null {
  if (!reached.endpoint.allowAnonymous) {
    const message = 'This endpoint does not admit anonymous callers: sign in or use an API key';
    const denial = platformDenial(ctx, reached, caller, {
      code: 'UNAUTHENTICATED',
      reasonCode: 'ANONYMOUS_NOT_ALLOWED',
      rule: 'allowAnonymous: false',
      reason: message,
      retryAfterSeconds: null,
    });
    return { error: new UnauthenticatedError(message, { reason: 'ANONYMOUS_NOT_ALLOWED' }), denial };
  }
  if (!overLimit) return null;
  const retryAfterSeconds = Number(overLimit.details.retryAfterSeconds);
  const denial = platformDenial(ctx, reached, caller, {
    code: 'RATE_LIMITED',
    reasonCode: 'ADDRESS_RATE_LIMIT',
    rule: ctx.deps.anonymousQueries!.describe(),
    reason: overLimit.message,
    retryAfterSeconds,
  });
  return { error: new RateLimitedError(overLimit.message, retryAfterSeconds, { reason: 'ADDRESS_RATE_LIMIT' }), denial };
}
