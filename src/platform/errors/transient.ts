/**
 * Failures of the database that pass, told apart from the unexpected: a request that meets one
 * is answered UNAVAILABLE (503 with Retry-After on the REST doors) instead of a masked
 * INTERNAL, so a client knows to send it again and an operator's error log keeps to real
 * defects. PostgreSQL rolls back the transaction that meets any of them, so a mutation refused
 * this way wrote nothing.
 *
 * Recognised by SQLSTATE (the `code` a PostgreSQL error carries through the pg driver and
 * MikroORM's exceptions) or by the socket error of a lost connection.
 */
import { CodedError, MaskedFailure, UnavailableError } from './coded-error.js';

/** SQLSTATE → the reason given to the client. */
const TRANSIENT_STATES: Record<string, string> = {
  '40001': 'SERIALIZATION_FAILURE',
  '40P01': 'DEADLOCK',
  '55P03': 'LOCK_TIMEOUT',
  '53300': 'TOO_MANY_CONNECTIONS',
  '57P01': 'DATABASE_RESTARTING',
  '57P02': 'DATABASE_RESTARTING',
  '57P03': 'DATABASE_RESTARTING',
  '08000': 'CONNECTION_LOST',
  '08003': 'CONNECTION_LOST',
  '08006': 'CONNECTION_LOST',
};

/**
 * Node's socket errors for a database connection refused or cut, as the pg pool throws them:
 * the error itself, never one found under `cause` (fetch wraps an unreachable server's socket
 * error in a TypeError: a model or key server, whose failures are coded where they are called).
 */
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

const RETRY_AFTER_SECONDS = 1;
/** How far down `cause` chains (MikroORM's exceptions wrap the driver's error) to look. */
const MAX_DEPTH = 5;

/** The coded form of a transient database failure anywhere in `error`'s chain, or undefined. */
export function transientFailure(error: unknown): UnavailableError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_DEPTH && current && typeof current === 'object'; depth += 1) {
    // Every pooled connection stayed busy until the pool's acquire timeout.
    if ((current as { name?: unknown }).name === 'KnexTimeoutError') {
      return new UnavailableError('The database could not complete the request just now; send it again.', 'CONNECTIONS_BUSY', RETRY_AFTER_SECONDS);
    }
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      const reason = TRANSIENT_STATES[code] ?? (depth === 0 && CONNECTION_ERRORS.has(code) ? 'CONNECTION_LOST' : undefined);
      if (reason) return new UnavailableError('The database could not complete the request just now; send it again.', reason, RETRY_AFTER_SECONDS);
    }
    const next = current as { cause?: unknown; originalError?: unknown };
    current = next.cause ?? next.originalError;
  }
  return undefined;
}

/** `error` as a coded error (itself, or a transient failure's coded form), or undefined if it is unexpected. */
export function codedFailure(error: unknown): CodedError | undefined {
  return error instanceof CodedError ? error : transientFailure(error);
}

/**
 * The request id an answer of `error` names, or undefined: a masked failure's and a transient
 * one's, for the client to quote to an operator (the rule GraphQL's error model applies too,
 * plugins/error-model.ts). The doors that name every error's request need not ask.
 */
export function requestNamedBy(error: CodedError, requestId: string): string | undefined {
  return error instanceof MaskedFailure || error instanceof UnavailableError ? requestId : undefined;
}

/**
 * `error` as a door outside GraphQL answers it: its coded form, else a MaskedFailure after
 * `logUnexpected` has logged the cause (with the request id the door's response carries).
 */
export function codedOrMasked(error: unknown, logUnexpected: (error: unknown) => void): CodedError {
  const coded = codedFailure(error);
  if (coded) return coded;
  logUnexpected(error);
  return new MaskedFailure();
}
