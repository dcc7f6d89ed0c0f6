/**
 * Coded errors: failures raised on purpose, each with its code (codes.ts). Services throw
 * them (through domains/errors.ts), and so do plugins and rate limits; graphql.ts turns one
 * into `extensions.code`, http.ts into a status. Anything else that escapes is unexpected and
 * is masked.
 *
 * They live here rather than in domains/ because infrastructure raises them too (a rate
 * limit's refusal is a RateLimitedError) and platform/ may not import domains/.
 */
import type { ErrorCode } from './codes.js';

export abstract class CodedError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra, client-safe facts about the failure (never secrets). */
  readonly details: Record<string, unknown>;

  /**
   * Whether what the failing operation wrote before this error is committed all the same: a
   * consequence that must hold though the caller is refused (a session ended on a reused
   * refresh token). Otherwise a failing mutation field writes nothing (graphql/mutation-savepoints.ts).
   */
  keepsWrites = false;

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }

  /** This error, its operation's writes kept (see keepsWrites). */
  keepingWrites(): this {
    this.keepsWrites = true;
    return this;
  }
}

export class UnauthenticatedError extends CodedError {
  readonly code = 'UNAUTHENTICATED';
}

export class ForbiddenError extends CodedError {
  readonly code = 'FORBIDDEN';
}

/** Also what a foreign tenant's id gets: never confirm that another tenant's object exists. */
export class NotFoundError extends CodedError {
  readonly code = 'NOT_FOUND';
  constructor(what: string, details: Record<string, unknown> = {}) {
    super(`${what} not found`, details);
  }
}

export class ValidationError extends CodedError {
  readonly code = 'BAD_USER_INPUT';
}

export class ConflictError extends CodedError {
  readonly code = 'CONFLICT';
}

export class RateLimitedError extends CodedError {
  readonly code = 'RATE_LIMITED';
  constructor(message: string, retryAfterSeconds: number, details: Record<string, unknown> = {}) {
    super(message, { ...details, retryAfterSeconds });
  }
}

export class PolicyDeniedError extends CodedError {
  readonly code = 'POLICY_DENIED';
}

/**
 * A model server failed us: it timed out, kept answering 429/5xx past the retries, or sent
 * something that is not the protocol. `details.reason` says which; `details.status` the
 * upstream HTTP status when there was one. Never carries the provider's key or raw body.
 */
export class UpstreamError extends CodedError {
  readonly code = 'UPSTREAM_ERROR';
}

/**
 * A model a query needs was found DOWN by its health checks: refused at once rather than
 * after the model's timeout. `details.model` says which (`CHAT` or `EMBEDDINGS`).
 */
export class ModelUnavailableError extends CodedError {
  readonly code = 'MODEL_UNAVAILABLE';
}

/** The client went away while its request waited for its turn (codes.ts, CANCELLED). */
export class CancelledError extends CodedError {
  readonly code = 'CANCELLED';
}

/**
 * One more live subscription than a connection or a principal may hold
 * (plugins/subscription-limits.ts): `details.scope` is `connection` or `principal`,
 * `details.limit` the cap. Ending a subscription frees its place at once.
 */
export class SubscriptionLimitError extends CodedError {
  readonly code = 'SUBSCRIPTION_LIMIT_EXCEEDED';
}

/**
 * The database failed the request for a reason of its own that passes (transient.ts):
 * `details.reason` names it, `details.retryAfterSeconds` when to send the request again.
 */
export class UnavailableError extends CodedError {
  readonly code = 'UNAVAILABLE';
  constructor(message: string, reason: string, retryAfterSeconds: number) {
    super(message, { reason, retryAfterSeconds });
  }
}

/** What every door shows of an unexpected failure, whatever it was (docs/errors.md). */
export const MASKED_MESSAGE = 'Unexpected error.';

/**
 * An unexpected failure as a door outside GraphQL answers it (REST, OpenAI, MCP, the catalog):
 * `INTERNAL` and the masked message, never the cause's; the door logs the cause with the
 * request id its response carries. GraphQL masks with `maskedError` (graphql.ts), the same words.
 */
export class MaskedFailure extends CodedError {
  readonly code = 'INTERNAL';
  constructor() {
    super(MASKED_MESSAGE);
  }
}
