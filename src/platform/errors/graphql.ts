/**
 * Coded errors as GraphQL errors: every error a client sees carries a stable
 * `extensions.code`. Coded errors map to their code; GraphQL errors that already carry a code
 * pass through; a transient database failure is UNAVAILABLE (transient.ts); everything else is
 * unexpected, logged with the request id, and masked.
 */
import { GraphQLError } from 'graphql';
import { httpStatusOf, statusInResults, type ErrorCode } from './codes.js';
import { CodedError, MASKED_MESSAGE } from './coded-error.js';
import { httpHeadersOf } from './http.js';
import { transientFailure } from './transient.js';

/**
 * How a coded error's details are shown to clients. The schema rewrites ids that clients know
 * in another form (Relay global ids); the default shows them as they are.
 */
export type PresentDetails = (details: Record<string, unknown>) => Record<string, unknown>;

export interface ClientErrorOptions {
  /** @default details as they are */
  presentDetails?: PresentDetails;
}

const asTheyAre: PresentDetails = (details) => details;

/** A coded GraphQL error for a coded error (HTTP status only where the transport should show it, codes.ts). */
export function codedErrorToGraphQL(error: CodedError, source?: GraphQLError, { presentDetails = asTheyAre }: ClientErrorOptions = {}): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    extensions: {
      code: error.code,
      ...presentDetails(error.details),
      ...(statusInResults(error.code) ? { http: httpExtensionOf(error) } : {}),
    },
  });
}

/** The `extensions.http` Yoga turns into the response's status and headers. */
function httpExtensionOf(error: CodedError): { status: number; headers: Record<string, string> | undefined } {
  return { status: httpStatusOf(error.code), headers: httpHeadersOf(error) };
}

export function hasErrorCode(error: unknown): error is GraphQLError {
  return error instanceof GraphQLError && typeof error.extensions?.code === 'string';
}

/**
 * The client-facing form of any error from execution: a coded error, or `undefined` when the
 * error is unexpected (the caller masks and logs it).
 */
export function toClientError(error: GraphQLError, options: ClientErrorOptions = {}): GraphQLError | undefined {
  const original = error.originalError;
  if (original instanceof CodedError) return codedErrorToGraphQL(original, error, options);
  if (!original) return hasErrorCode(error) ? error : withCode(error, 'BAD_USER_INPUT');
  if (original instanceof GraphQLError) {
    const inner = toClientError(original, options);
    if (!inner) return undefined;
    // GraphQL names where a value was refused before the scalar's message (`Variable "$from"
    // got invalid value …; `): kept, so the client learns which argument it was.
    const where = error.message.endsWith(original.message) ? error.message.slice(0, error.message.length - original.message.length) : '';
    return new GraphQLError(where + inner.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path ?? inner.path,
      extensions: { ...inner.extensions },
    });
  }
  const transient = transientFailure(original);
  return transient ? codedErrorToGraphQL(transient, error, options) : undefined;
}

/** An unexpected error as the client sees it: `INTERNAL`, the request id, and (development only) the message. */
export function maskedError(error: GraphQLError, requestId: string, exposeMessage: boolean): GraphQLError {
  return new GraphQLError(exposeMessage ? `Unexpected error: ${error.message}` : MASKED_MESSAGE, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { code: 'INTERNAL' satisfies ErrorCode, requestId },
  });
}

/**
 * Errors graphql-js raises itself (syntax, validation, variable coercion) have no original
 * error: they are the client's mistake.
 */
function withCode(error: GraphQLError, code: ErrorCode): GraphQLError {
  return withExtensions(error, { code });
}

/** The same error (message, location, path) with `extra` added to its extensions. */
export function withExtensions(error: GraphQLError, extra: Record<string, unknown>): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, ...extra },
  });
}

/**
 * The error without `extensions.originalError`, which Yoga adds to a request it could not read
 * (the JSON parser's message, quoting the start of the body): in production an answer carries no
 * internal detail, and the body may hold what the caller meant to keep (a password in a broken
 * sign-in body).
 */
export function withoutOriginalError(error: GraphQLError): GraphQLError {
  const extensions = error.extensions as Record<string, any> | undefined;
  if (extensions?.originalError === undefined) return error;
  delete extensions.originalError;
  // Yoga answers an application/json client 200 when no error carries an original error and the
  // status is marked as the spec's; a body it could not read stays 400.
  if (extensions.http?.spec) extensions.http = { ...extensions.http, spec: false };
  return error;
}
