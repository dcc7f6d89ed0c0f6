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
import { RateLimitedError, UnauthenticatedError, type CodedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';
import { writePlatformRefusal } from './refusals.js';

/**
 * Null when the anonymous caller may go on to the policies; else the refusal, already written
 * in `tx` (the transaction that read the endpoint): throw it once that has committed.
 */
export async function anonymousRefusal(ctx: ServiceContext, tx: EntityManager, reached: ReachedEndpoint, caller: Caller): Promise<CodedError | null> {
  if (!reached.endpoint.allowAnonymous) {
    const message = 'This endpoint does not admit anonymous callers: sign in or use an API key';
    writePlatformRefusal(tx, ctx, reached, caller, {
      code: 'UNAUTHENTICATED',
      reasonCode: 'ANONYMOUS_NOT_ALLOWED',
      rule: 'allowAnonymous: false',
      reason: message,
      retryAfterSeconds: null,
    });
    return new UnauthenticatedError(message, { reason: 'ANONYMOUS_NOT_ALLOWED' });
  }
  const limit = ctx.deps.anonymousQueries;
  const refused = limit && (await limit.take(ctx.request?.ip ?? 'unknown', reached.endpoint.id));
  if (!refused) return null;
  const retryAfterSeconds = Number(refused.details.retryAfterSeconds);
  writePlatformRefusal(tx, ctx, reached, caller, {
    code: 'RATE_LIMITED',
    reasonCode: 'ADDRESS_RATE_LIMIT',
    rule: limit.describe(),
    reason: refused.message,
    retryAfterSeconds,
  });
  return new RateLimitedError(refused.message, retryAfterSeconds, { reason: 'ADDRESS_RATE_LIMIT' });
}
