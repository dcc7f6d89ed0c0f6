/**
 * Errors of the OpenAI-compatible routes in OpenAI's own shape, so OpenAI clients raise their
 * typed errors (`NotFoundError`, `PermissionDeniedError`, `RateLimitError`, ...):
 * `{ error: { message, type, code, param } }` with the HTTP status of the Sluice code, `code`
 * the Sluice code itself (the same on every surface, docs/errors.md), and `sluice` holding the
 * error's details as GraphQL presents them (a policy's id is the id the API gives it
 * elsewhere) and the request id. Mid-stream, the same object is one SSE event (`data: {"error": ...}`), which OpenAI
 * clients raise as an APIError.
 */
import { CodedError, httpHeadersOf, httpStatusOf, type ErrorCode } from '../platform/errors/index.js';
import { presentErrorDetails } from '../schema/error-details.js';

/** OpenAI's error `type` for a status family (what OpenAI clients and proxies look at). */
const TYPES: Partial<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: 'authentication_error',
  FORBIDDEN: 'permission_error',
  POLICY_DENIED: 'permission_error',
  HOST_NOT_ALLOWED: 'permission_error',
  NOT_FOUND: 'not_found_error',
  RATE_LIMITED: 'rate_limit_error',
  SUBSCRIPTION_LIMIT_EXCEEDED: 'rate_limit_error',
  UPSTREAM_ERROR: 'upstream_error',
  UNAVAILABLE: 'server_error',
  INTERNAL: 'server_error',
};

/** Where a service's `field` is in an OpenAI request: the endpoint is `model`, the query the last user message. */
const PARAMS: Record<string, string> = { endpoint: 'model', query: 'messages' };

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null; sluice: Record<string, unknown> };
}

/** The error object of a coded error (an uncoded one is the caller's to turn into INTERNAL first). */
export function openAIErrorBody(error: CodedError, requestId: string): OpenAIErrorBody {
  const { field, ...details } = error.details;
  const param = typeof field === 'string' ? (PARAMS[field] ?? field) : null;
  return {
    error: { message: error.message, type: TYPES[error.code] ?? 'invalid_request_error', code: error.code, param, sluice: { ...presentErrorDetails(details), requestId } },
  };
}

/** A complete response for a coded error: its status, `WWW-Authenticate` with 401, `Retry-After` with 429. */
export function openAIErrorResponse(fetchAPI: { Response: typeof Response }, error: CodedError, requestId: string): Response {
  const headers = Object.entries(httpHeadersOf(error) ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const);
  return new fetchAPI.Response(JSON.stringify(openAIErrorBody(error, requestId)), {
    status: httpStatusOf(error.code),
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...Object.fromEntries(headers) },
  });
}

/** A body that cannot be read as JSON text (not UTF-8, not JSON): the request, not a field, is at fault. */
export class UnreadableBodyError extends CodedError {
  readonly code = 'BAD_REQUEST';
}
