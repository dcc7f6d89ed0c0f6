/**
 * Who may read `/metrics`, on the API (plugins/metrics.ts) and on a worker's own listener
 * (metrics-listener.ts) alike: with a token, scrapes must send `Authorization: Bearer <token>`
 * (401); without one it is open, except where `openWithoutToken` is false (production), which
 * serves no metrics at all (404): the numbers say how busy the service is, not for the internet.
 */
import { timingSafeEqual } from 'node:crypto';

export interface ScrapeAccess {
  /** Bearer token scrapes must send; undefined: no token asked. */
  token?: string;
  /** Serve without a token (production: false). @default true */
  openWithoutToken?: boolean;
}

export interface ScrapeRefusal {
  status: 401 | 404;
  body: string;
  headers: Record<string, string>;
}

/** Why this scrape is refused, or undefined when it may read the metrics. */
export function scrapeRefusal({ token, openWithoutToken = true }: ScrapeAccess, authorization: string | null | undefined): ScrapeRefusal | undefined {
  if (!token && !openWithoutToken) return { status: 404, body: 'Not found: set SLUICE_METRICS_TOKEN to serve metrics in production\n', headers: {} };
  if (token && !bearerMatches(authorization, token)) return { status: 401, body: 'Send Authorization: Bearer <SLUICE_METRICS_TOKEN>\n', headers: { 'www-authenticate': 'Bearer' } };
  return undefined;
}

/** Constant-time comparison of the presented bearer token with the configured one. */
function bearerMatches(header: string | null | undefined, token: string): boolean {
  const presented = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
