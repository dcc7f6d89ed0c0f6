/**
 * Domain errors. Services throw these; the schema maps `code` to `extensions.code`. Anything
 * else that escapes a service is unexpected and is masked.
 */
export type DomainErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'POLICY_DENIED'
  | 'UPSTREAM_ERROR'
  | 'SUBSCRIPTION_LIMIT_EXCEEDED';

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  /** Extra, client-safe facts about the failure (never secrets). */
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
}

/** Also what a foreign tenant's id gets: never confirm that another tenant's object exists. */
export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(what: string, details: Record<string, unknown> = {}) {
    super(`${what} not found`, details);
  }
}

export class ValidationError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
}

export class ConflictError extends DomainError {
  readonly code = 'CONFLICT';
}

export class RateLimitedError extends DomainError {
  readonly code = 'RATE_LIMITED';
  constructor(message: string, retryAfterSeconds: number, details: Record<string, unknown> = {}) {
    super(message, { ...details, retryAfterSeconds });
  }
}

export class PolicyDeniedError extends DomainError {
  readonly code = 'POLICY_DENIED';
}

/**
 * A model server failed us: it timed out, kept answering 429/5xx past the retries, or sent
 * something that is not the protocol. `details.reason` says which; `details.status` the
 * upstream HTTP status when there was one. Never carries the provider's key or raw body.
 */
export class UpstreamError extends DomainError {
  readonly code = 'UPSTREAM_ERROR';
}

/**
 * One more live subscription than a connection or a principal may hold
 * (plugins/subscription-limits.ts): `details.scope` is `connection` or `principal`,
 * `details.limit` the cap. Ending a subscription frees its place at once.
 */
export class SubscriptionLimitError extends DomainError {
  readonly code = 'SUBSCRIPTION_LIMIT_EXCEEDED';
}
