/**
 * Who may ask without a credential: an anonymous caller reaches published endpoints only
 * (endpoints/endpoint-access.ts: anything else is NOT_FOUND), and of those only the ones that
 * allow anonymous callers; the rest refuse with UNAUTHENTICATED (reason ANONYMOUS_NOT_ALLOWED),
 * which says what to do without saying more than "published" already does. An admitted
 * anonymous caller then takes a query from its address's bucket for the endpoint (the
 * per-address limit, SLUICE_ANONYMOUS_QUERIES_PER_MINUTE) before the endpoint's policies judge
 * it like any other caller. Both refusals are in the endpoint's decision log.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Caller, ReachedEndpoint } from '../endpoints/endpoint-access.js';
import { RateLimitedError, UnauthenticatedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';
import { writePlatformRefusal, type RecordedRefusal } from './refusals.js';

/**
 * Null when the anonymous caller may go on to the policies; else the refusal, already written
 * in `tx` (the transaction that read the endpoint) unless the flood limit only counted it:
 * throw it once that has committed.
 */
export async function anonymousRefusal(ctx: ServiceContext, tx: EntityManager, reached: ReachedEndpoint, caller: Caller): Promise<RecordedRefusal | null> {
  if (!reached.endpoint.allowAnonymous) {
    const message = 'This endpoint does not admit anonymous callers: sign in or use an API key';
    const recorded = await writePlatformRefusal(tx, ctx, reached, caller, {
      code: 'UNAUTHENTICATED',
      reasonCode: 'ANONYMOUS_NOT_ALLOWED',
      rule: 'allowAnonymous: false',
      reason: message,
      retryAfterSeconds: null,
    });
    return { error: new UnauthenticatedError(message, { reason: 'ANONYMOUS_NOT_ALLOWED' }), recorded };
  }
  const limit = ctx.deps.anonymousQueries;
  const refused = limit && (await limit.take(ctx.request?.ip ?? 'unknown', reached.endpoint.id));
  if (!refused) return null;
  const retryAfterSeconds = Number(refused.details.retryAfterSeconds);
  const recorded = await writePlatformRefusal(tx, ctx, reached, caller, {
    code: 'RATE_LIMITED',
    reasonCode: 'ADDRESS_RATE_LIMIT',
    rule: limit.describe(),
    reason: refused.message,
    retryAfterSeconds,
  });
  return { error: new RateLimitedError(refused.message, retryAfterSeconds, { reason: 'ADDRESS_RATE_LIMIT' }), recorded };
}
