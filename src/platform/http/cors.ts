/**
 * The CORS allow-list (CORS_ORIGINS), for Yoga's `cors` option and the WebSocket upgrade.
 *
 * Yoga's own list handling is not an allow-list: an empty list reflects every origin, and a
 * one-entry list answers that entry to anyone. So the decision is made here, per request: an
 * origin on the list gets CORS headers naming it; any other origin gets none at all, and the
 * browser keeps the response from the page. `['*']` (development only, and only when set:
 * production refuses it) reflects any origin; `[]` (production without CORS_ORIGINS) allows
 * none. Development without CORS_ORIGINS allows loopback origins only (`loopback`): a site the
 * developer visits must not drive their local server (attacker review: a drive-by page signed
 * up and aimed models at the developer's own network), a front end on localhost:5173 may.
 *
 * No `Access-Control-Allow-Credentials`: Sluice authenticates with bearer tokens in headers,
 * never cookies, so a browser never needs to send ambient credentials to it.
 */
import { isIP } from 'node:net';
import type { CORSOptions } from 'graphql-yoga';

/** Response headers browsers may read: the request id (errors name it) and rate-limit hints. */
const EXPOSED_HEADERS = ['x-request-id', 'retry-after'];

export interface OriginOptions {
  /** Pages served from this machine are allowed too: http(s)://localhost, *.localhost, 127.0.0.0/8, [::1], any port. */
  loopback?: boolean;
}

export function corsPolicy(allowedOrigins: readonly string[], options: OriginOptions = {}): (request: Request) => CORSOptions {
  return (request) => {
    const origin = request.headers.get('origin');
    if (!origin || !originAllowed(allowedOrigins, origin, options)) return false;
    return { origin: [origin], credentials: false, exposedHeaders: EXPOSED_HEADERS, maxAge: 600 };
  };
}

/** Whether a browser page at `origin` may call Sluice (an absent Origin is not a browser page). */
export function originAllowed(allowedOrigins: readonly string[], origin: string | undefined, { loopback = false }: OriginOptions = {}): boolean {
  if (origin === undefined) return true;
  if (allowedOrigins.includes('*')) return true;
  const normalized = normalizeOrigin(origin);
  if (normalized === null) return false;
  if (loopback && isLoopbackOrigin(new URL(normalized))) return true;
  return allowedOrigins.some((allowed) => normalizeOrigin(allowed) === normalized);
}

/** An http(s) origin on this machine, by name or address (the URL parser has normalized `127.1` and the like). */
function isLoopbackOrigin({ protocol, hostname }: URL): boolean {
  if (protocol !== 'http:' && protocol !== 'https:') return false;
  if (hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]') return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
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
 * host as its Origin, unless it rebinds its own name to this server's address: the Host
 * allow-list (allowed-hosts.ts) refuses such a request before this is asked. Schemes are not
 * compared: behind a TLS terminator the page is https while Sluice sees http. A proxy that
 * rewrites Host needs the origin in CORS_ORIGINS.
 */
export function sameHostOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || host === undefined) return false;
  const normalized = normalizeOrigin(origin);
  return normalized !== null && new URL(normalized).host === host.toLowerCase();
}
