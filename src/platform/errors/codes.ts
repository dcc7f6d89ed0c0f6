/**
 * Every `extensions.code` Sluice answers with, and what HTTP says about each: the one list.
 * docs/errors.md explains them to clients; the SDK keeps `code` a plain string so that an
 * older client still reads a code a newer server adds.
 */

/** What HTTP says about one code. */
interface CodeRule {
  /**
   * The status of a response that is this error alone: a REST door's refusal, or a refusal
   * before GraphQL runs (the body is read, the operation parsed or validated, the context built).
   */
  readonly status: number;
  /**
   * A GraphQL result that holds this error carries `status` too. Otherwise a result is 200,
   * so that the data beside the error stays readable; 401 and 429 are the exceptions because
   * clients, proxies and load balancers act on them (sign in again, back off).
   */
  readonly statusInResults?: true;
}

export const ERROR_CODES = {
  // Raised by services and plugins as coded errors (coded-error.ts).
  UNAUTHENTICATED: { status: 401, statusInResults: true },
  FORBIDDEN: { status: 403 },
  NOT_FOUND: { status: 404 },
  BAD_USER_INPUT: { status: 400 },
  CONFLICT: { status: 409 },
  RATE_LIMITED: { status: 429, statusInResults: true },
  POLICY_DENIED: { status: 403 },
  UPSTREAM_ERROR: { status: 502 },
  /** A model the query needs is DOWN by its health checks (docs/endpoints.md#health). */
  MODEL_UNAVAILABLE: { status: 503 },
  SUBSCRIPTION_LIMIT_EXCEEDED: { status: 429 },
  /**
   * The database could not serve the request just now (a deadlock or serialization conflict
   * it broke, a lock it waited on too long, its connections lost or full): nothing wrong with
   * the request, which may be sent again (transient.ts).
   */
  UNAVAILABLE: { status: 503 },
  /**
   * The client went away before its request was served (it hung up while the request waited
   * for its turn): nobody reads the answer; the code is for the audit trail, logs and metrics.
   * 499 is the status proxies log for a client that closed its request.
   */
  CANCELLED: { status: 499 },
  /** Something unexpected: the message is masked and the request id given instead. */
  INTERNAL: { status: 500 },

  // Refusals before GraphQL runs (plugins and the HTTP layer build these directly).
  /** Yoga's own, for a document that is not GraphQL. */
  GRAPHQL_PARSE_FAILED: { status: 400 },
  /** Yoga's own for an unreadable body; ours for text that is not UTF-8. */
  BAD_REQUEST: { status: 400 },
  OPERATION_LIMIT_EXCEEDED: { status: 400 },
  INTROSPECTION_DISABLED: { status: 400 },
  CSRF_HEADER_REQUIRED: { status: 403 },
  /** The Host header names a host this server does not answer for (DNS rebinding: platform/http/allowed-hosts.ts). */
  HOST_NOT_ALLOWED: { status: 403 },
  TRUSTED_DOCUMENT_REQUIRED: { status: 400 },
  TRUSTED_DOCUMENT_NOT_FOUND: { status: 400 },
  PAYLOAD_TOO_LARGE: { status: 413 },
  LENGTH_REQUIRED: { status: 411 },
  /** A REST door's body in a media type it does not take (the REST query takes JSON only). */
  UNSUPPORTED_MEDIA_TYPE: { status: 415 },
  /** A REST door asked with a method it does not answer (`Allow` says which it does). */
  METHOD_NOT_ALLOWED: { status: 405 },
  /** A request this deployment made itself, as a model call, came back to it (platform/http/call-loops.ts). */
  LOOP_DETECTED: { status: 508 },
} as const satisfies Record<string, CodeRule>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The status of a response that is this error alone (see `CodeRule.status`). */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** Whether a GraphQL result holding this error carries its status (see `CodeRule.statusInResults`). */
export function statusInResults(code: ErrorCode): boolean {
  return (ERROR_CODES[code] as CodeRule).statusInResults === true;
}
