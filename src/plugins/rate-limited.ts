/**
 * The one shape of a rate-limit refusal, whichever limit refused: a `RateLimitedError` with
 * `retryAfterSeconds`, which platform/errors turns into `extensions.code: RATE_LIMITED`,
 * HTTP 429 and `Retry-After`. Over graphql-ws the same error arrives as a GraphQL error.
 */
import { codedErrorResponse, RateLimitedError } from '../platform/errors/index.js';
import { retryAfterSeconds, type BucketResult } from '../rate-limits/token-bucket.js';

/** The refusal for a bucket that said no; `what` completes "Too many …". */
export function rateLimited(what: string, result: BucketResult): RateLimitedError {
  const seconds = retryAfterSeconds(result);
  return new RateLimitedError(`Too many ${what}: retry in ${seconds} s`, seconds);
}

/**
 * A complete HTTP 429 response, for refusals before GraphQL runs (no result to put an error in).
 * The body is the usual `{ errors: [...] }`, without the `http` extension Yoga would strip.
 */
export function rateLimitedResponse(fetchAPI: { Response: typeof Response }, error: RateLimitedError): Response {
  return codedErrorResponse(fetchAPI, error);
}

