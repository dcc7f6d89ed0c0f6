/**
 * The error model, in one place: the codes and their HTTP status (codes.ts), the coded errors
 * that carry them (coded-error.ts), their GraphQL form with masking of the unexpected
 * (graphql.ts), and their plain-HTTP form for the doors outside GraphQL (http.ts).
 * docs/errors.md is the client's view of the same.
 */
export { ERROR_CODES, httpStatusOf, statusInResults, type ErrorCode } from './codes.js';
export {
  CodedError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PolicyDeniedError,
  RateLimitedError,
  SubscriptionLimitError,
  UnauthenticatedError,
  UpstreamError,
  ModelUnavailableError,
  UnavailableError,
  ValidationError,
  MaskedFailure,
  MASKED_MESSAGE,
} from './coded-error.js';
export { codedFailure, codedOrMasked, requestNamedBy, transientFailure } from './transient.js';
export { RequestRefusal } from './request-refusal.js';
export { codedErrorToGraphQL, hasErrorCode, maskedError, toClientError, withExtensions, withoutOriginalError, type ClientErrorOptions, type PresentDetails } from './graphql.js';
export { codedErrorResponse, httpHeadersOf, problemResponse, PROBLEM_JSON } from './http.js';
