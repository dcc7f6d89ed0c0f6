/**
 * The error model: every error a client sees carries a stable `extensions.code`.
 * Domain errors map to their code; GraphQL errors that already carry a code pass through;
 * everything else is unexpected, logged with the request id, and masked.
 */
import { encodeGlobalID } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { DomainError } from '../domains/errors.js';

export type ErrorCode =
  | DomainError['code']
  | 'INTERNAL';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
};

/** Ids in domain error details that clients know as Relay global ids (the type they name). */
const GLOBAL_ID_DETAILS: Record<string, string> = { policyId: 'Policy' };

function clientDetails(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(details).map(([key, value]) => [key, GLOBAL_ID_DETAILS[key] && typeof value === 'string' ? encodeGlobalID(GLOBAL_ID_DETAILS[key], value) : value]),
  );
}

/** A coded GraphQL error for a domain error (HTTP status only where the transport should show it). */
export function domainErrorToGraphQL(error: DomainError, source?: GraphQLError): GraphQLError {
  const status = HTTP_STATUS[error.code];
  return new GraphQLError(error.message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    extensions: {
      code: error.code,
      ...clientDetails(error.details),
      ...(status
        ? {
            http: {
              status,
              headers: httpHeaders(error),
            },
          }
        : {}),
    },
  });
}

/** What the status needs said over HTTP: the auth scheme with 401, when to come back with 429. */
function httpHeaders(error: DomainError): Record<string, string> | undefined {
  if (error.code === 'UNAUTHENTICATED') return { 'WWW-Authenticate': 'Bearer' };
  const retryAfter = error.details.retryAfterSeconds;
  if (error.code === 'RATE_LIMITED' && typeof retryAfter === 'number') return { 'Retry-After': String(retryAfter) };
  return undefined;
}

export function hasErrorCode(error: unknown): error is GraphQLError {
  return error instanceof GraphQLError && typeof error.extensions?.code === 'string';
}

/**
 * The client-facing form of any error from execution: a coded error, or `undefined` when the
 * error is unexpected (the caller masks and logs it).
 */
export function toClientError(error: GraphQLError): GraphQLError | undefined {
  const original = error.originalError;
  if (original instanceof DomainError) return domainErrorToGraphQL(original, error);
  if (!original) return hasErrorCode(error) ? error : withCode(error, 'BAD_USER_INPUT');
  if (original instanceof GraphQLError) {
    const inner = toClientError(original);
    if (!inner) return undefined;
    return new GraphQLError(inner.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path ?? inner.path,
      extensions: { ...inner.extensions },
    });
  }
  return undefined;
}

export function maskedError(error: GraphQLError, requestId: string, exposeMessage: boolean): GraphQLError {
  return new GraphQLError(exposeMessage ? `Unexpected error: ${error.message}` : 'Unexpected error.', {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { code: 'INTERNAL', requestId },
  });
}

/**
 * Errors graphql-js raises itself (syntax, validation, variable coercion) have no original
 * error: they are the client's mistake.
 */
function withCode(error: GraphQLError, code: ErrorCode): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code },
  });
}
