/**
 * Coded errors over plain HTTP: the headers a status needs, and the response of a door that
 * refuses outside GraphQL (a refusal before the body is read, the REST doors).
 */
import { httpStatusOf } from './codes.js';
import type { CodedError } from './coded-error.js';

/** What the status needs said over HTTP: the auth scheme with 401, when to come back with 429 and 503. */
export function httpHeadersOf(error: CodedError): Record<string, string> | undefined {
  if (error.code === 'UNAUTHENTICATED') return { 'WWW-Authenticate': 'Bearer' };
  const retryAfter = error.details.retryAfterSeconds;
  if ((error.code === 'RATE_LIMITED' || error.code === 'MODEL_UNAVAILABLE' || error.code === 'UNAVAILABLE') && typeof retryAfter === 'number') return { 'Retry-After': String(retryAfter) };
  return undefined;
}

/**
 * A complete response for a coded error, for refusals with no GraphQL result to put it in:
 * the status of its code and the usual `{ errors: [{ message, extensions }] }` body, whose
 * extensions are the code and the error's details (what a GraphQL result would hold, without
 * the `http` extension Yoga would strip).
 */
export function codedErrorResponse(fetchAPI: { Response: typeof Response }, error: CodedError): Response {
  const body = { errors: [{ message: error.message, extensions: { code: error.code, ...error.details } }] };
  const headers = Object.entries(httpHeadersOf(error) ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const);
  return new fetchAPI.Response(JSON.stringify(body), {
    status: httpStatusOf(error.code),
    headers: { 'content-type': 'application/json; charset=utf-8', ...Object.fromEntries(headers) },
  });
}

/** The media type of RFC 9457 problem details. */
export const PROBLEM_JSON = 'application/problem+json';

/**
 * An RFC 9457 problem details response for the REST doors: `type` names the code as a URN
 * (`urn:sluice:error:NOT_FOUND`; docs/errors.md explains each), `title` is the code, `status`,
 * `detail` the message, `instance` the request id, plus the same `code` and details a GraphQL
 * error's extensions carry, so a client handles one set of codes on every surface. (An
 * uncoded failure is the caller's to turn into INTERNAL with a masked message.)
 */
export function problemResponse(fetchAPI: { Response: typeof Response }, error: CodedError, requestId: string | null, extraHeaders: Record<string, string> = {}): Response {
  const status = httpStatusOf(error.code);
  // RFC 9457's members are this response's own: details come first, so none can overwrite
  // them, and the one detail of such a name (the status a model server answered, on
  // UPSTREAM_ERROR) is given as `upstreamStatus`.
  const { status: upstreamStatus, ...details } = error.details;
  const body = {
    code: error.code,
    ...details,
    ...(upstreamStatus !== undefined ? { upstreamStatus } : {}),
    type: `urn:sluice:error:${error.code}`,
    title: error.code,
    status,
    detail: error.message,
    ...(requestId ? { instance: `urn:request:${requestId}`, requestId } : {}),
  };
  const headers = Object.entries(httpHeadersOf(error) ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const);
  return new fetchAPI.Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': `${PROBLEM_JSON}; charset=utf-8`, 'cache-control': 'no-store', ...Object.fromEntries(headers), ...extraHeaders },
  });
}
