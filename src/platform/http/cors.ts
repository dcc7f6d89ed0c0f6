/**
 * The CORS allow-list (CORS_ORIGINS), for Yoga's `cors` option and the WebSocket upgrade.
 *
 * Yoga's own list handling is not an allow-list: an empty list reflects every origin, and a
 * one-entry list answers that entry to anyone. So the decision is made here, per request: an
 * origin on the list gets CORS headers naming it; any other origin gets none at all, and the
 * browser keeps the response from the page. `['*']` (development only; production refuses it)
 * reflects any origin; `[]` (production without CORS_ORIGINS) allows none.
 *
 * No `Access-Control-Allow-Credentials`: Sluice authenticates with bearer tokens in headers,
 * never cookies, so a browser never needs to send ambient credentials to it.
 */
import type { CORSOptions } from 'graphql-yoga';

/** Response headers browsers may read: the request id (errors name it) and rate-limit hints. */
const EXPOSED_HEADERS = ['x-request-id', 'retry-after'];

export function corsPolicy(allowedOrigins: readonly string[]): (request: Request) => CORSOptions {
  return (request) => {
    const origin = request.headers.get('origin');
    if (!origin || !originAllowed(allowedOrigins, origin)) return false;
    return { origin: [origin], credentials: false, exposedHeaders: EXPOSED_HEADERS, maxAge: 600 };
  };
}

/** Whether a browser page at `origin` may call Sluice (an absent Origin is not a browser page). */
export function originAllowed(allowedOrigins: readonly string[], origin: string | undefined): boolean {
  if (origin === undefined) return true;
  if (allowedOrigins.includes('*')) return true;
  const normalized = normalizeOrigin(origin);
  return normalized !== null && allowedOrigins.some((allowed) => normalizeOrigin(allowed) === normalized);
}

/** `https://Console.Example.com:443/` → `https://console.example.com`; null when not an origin. */
function normalizeOrigin(value: string): string | null {
  try {
    const url = new URL(value);
    return url.origin === 'null' ? null : url.origin;
  } catch {
    return null;
  }
}

/**
 * Whether `origin` is a page of the host the request was sent to (the console Sluice serves
 * itself): the WebSocket upgrade allows it whatever CORS_ORIGINS says, as browsers allow
 * same-origin fetches without CORS. A page of another site cannot send this server's own
 * host as its Origin. Schemes are not compared: behind a TLS terminator the page is https
 * while Sluice sees http. A proxy that rewrites Host needs the origin in CORS_ORIGINS.
 */
export function sameHostOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || host === undefined) return false;
  const normalized = normalizeOrigin(origin);
  return normalized !== null && new URL(normalized).host === host.toLowerCase();
}
