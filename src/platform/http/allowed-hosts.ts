/**
 * The Host allow-list (SLUICE_ALLOWED_HOSTS), against DNS rebinding: a page of
 * `attacker.example` whose name the attacker then points at 127.0.0.1 (or at a server on a
 * private network) is, to the browser, same-origin with whatever answers there, so CORS does
 * not stop it. What gives it away is the Host header: the browser sends the attacker's name.
 * So a request naming a host that is not ours is refused (403 HOST_NOT_ALLOWED) before anything
 * else runs, on plain HTTP and on the WebSocket upgrade, as Vite does (`server.allowedHosts`).
 *
 * Always allowed: IP address literals (rebinding needs a name), `localhost` and `*.localhost`
 * (browsers resolve those to loopback themselves). The port is not compared. Only `Host` is
 * read, never `X-Forwarded-Host`: a rebound page is same-origin and may set that header itself.
 * Behind a proxy that rewrites Host, the name the proxy sends must be listed (or be an IP).
 * A request with no Host header at all (HTTP/1.0) names no host and passes: no browser sends one.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { refuse, type RefusalShape } from './body-limit.js';

/** The entry that allows any host. */
export const ANY_HOST = '*';

/** A Host header: a name or a bracketed IPv6 address, and an optional port. */
const HOST_HEADER = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+))(?::\d{1,5})?$/i;
/** An entry: a name, `.name` (it and every name under it), `*.name` (every name under it), or `*`. */
const ENTRY = /^(?:\*|(?:\*\.|\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)$/i;

/** SLUICE_ALLOWED_HOSTS as a list (lowercased, a trailing dot dropped), and the entries that are not host names. */
export function parseAllowedHosts(value: string): { hosts: string[]; bad: string[] } {
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  return {
    hosts: entries.filter((entry) => ENTRY.test(entry)).map((entry) => entry.toLowerCase().replace(/\.$/, '')),
    bad: entries.filter((entry) => !ENTRY.test(entry)),
  };
}

/** Whether a request whose Host header is `hostHeader` may be answered. */
export function hostAllowed(allowedHosts: readonly string[], hostHeader: string | undefined): boolean {
  if (hostHeader === undefined) return true;
  const match = HOST_HEADER.exec(hostHeader);
  if (!match) return false;
  if (match[1] !== undefined) return isIP(match[1]) === 6;
  // `example.com.` is the same DNS name as `example.com`.
  const name = match[2]!.toLowerCase().replace(/\.$/, '');
  if (isIP(name) === 4 || name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowedHosts.some((entry) => {
    if (entry === ANY_HOST) return true;
    if (entry.startsWith('*.')) return name.endsWith(entry.slice(1));
    if (entry.startsWith('.')) return name === entry.slice(1) || name.endsWith(entry);
    return name === entry;
  });
}

/** What production without SLUICE_ALLOWED_HOSTS logs at start-up. */
export const ANY_HOST_WARNING =
  'SLUICE_ALLOWED_HOSTS is not set: requests for any host name are answered, so a DNS-rebinding page can reach this server wherever a browser can; list its public host names';

export const HOST_REFUSAL_MESSAGE =
  'This server does not answer for the host this request was sent to (its Host header): list the host name in SLUICE_ALLOWED_HOSTS';

export interface HostCheckOptions {
  allowedHosts: readonly string[];
  /** Paths answered whatever the Host (the probes: load balancers ask by IP or an internal name); exact, a query string allowed. */
  anyHostPaths: readonly string[];
}

/** `next`, unless the request names a host that is not allowed: then 403 HOST_NOT_ALLOWED, in the door's error shape. */
export function withAllowedHosts({ allowedHosts, anyHostPaths }: HostCheckOptions, next: RequestListener, shape?: RefusalShape): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const host = req.headers.host;
    if (hostAllowed(allowedHosts, host)) return next(req, res);
    // Only a Host that is a host: the router builds the request's URL as `http://<Host><path>`,
    // so a Host holding `/` or `?` (`evil/graphql?query=…`) would send an exempt path elsewhere.
    const exempt = (host === undefined || HOST_HEADER.test(host)) && anyHostPaths.includes((req.url ?? '/').split('?')[0]!);
    if (exempt) return next(req, res);
    refuse(req, res, 'HOST_NOT_ALLOWED', HOST_REFUSAL_MESSAGE, undefined, shape);
  };
}
