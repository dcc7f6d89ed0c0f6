/**
 * Every HTTP request's id: the caller's `x-request-id` if it is short and plain (safe in logs
 * and headers), else a new UUID, remembered per request so the GraphQL context, the routes,
 * the log lines and the response all carry the same one.
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
/** What an error masked where no request is known (Yoga's last-resort masking) carries until the request id plugin names it. */
export const UNKNOWN_REQUEST_ID = 'unknown';
const SAFE_ID = /^[\w.:-]{1,128}$/;
const ids = new WeakMap<Request, string>();

export function requestIdOf(request: Request | undefined, header = REQUEST_ID_HEADER): string {
  if (!request) return randomUUID(); // WebSocket operations: one id per operation
  let id = ids.get(request);
  if (!id) {
    const incoming = request.headers.get(header);
    id = requestIdFromHeader(incoming ?? undefined);
    ids.set(request, id);
  }
  return id;
}

/** The id of a request seen before it is a fetch Request (a refusal at the edge): the caller's header, if plain, else a new UUID. */
export function requestIdFromHeader(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * A WebSocket operation's id: the one its client sent in the graphql-ws payload's
 * `extensions.requestId` (the SDK does), under the same rule as the header, else a new UUID.
 */
export function operationRequestId(given: unknown): string {
  return typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
}

/** The id given to `request`, if one was. */
export function givenRequestId(request: Request): string | undefined {
  return ids.get(request);
}
