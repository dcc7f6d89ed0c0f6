/**
 * The errors services throw, by the names they are thrown with. They are the coded errors of
 * platform/errors (rate limits and plugins raise them too); domain code imports them from here.
 */
export {
  CancelledError,
  CodedError,
  ConflictError,
  ForbiddenError,
  ModelUnavailableError,
  NotFoundError,
  PolicyDeniedError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
  UpstreamError,
  ValidationError,
} from '../platform/errors/coded-error.js';
export { codedFailure } from '../platform/errors/transient.js';
