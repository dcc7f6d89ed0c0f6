/**
 * Plain http (and the ws:// its subscriptions use) carries `sluice login`'s password, the
 * session's tokens and an API key in the clear. To this machine's loopback that is no risk and
 * is allowed without a word; to any other host, only when the user says so (--insecure-http or
 * SLUICE_ALLOW_INSECURE_HTTP=1), and then with a warning on every command.
 */
import { isIPv4 } from 'node:net';

/** Whether `url` is http: to a host other than loopback (localhost, *.localhost, 127.0.0.0/8, ::1). */
export function isPlainHttpBeyondLoopback(url: URL): boolean {
  return url.protocol === 'http:' && !isLoopback(url.hostname);
}

/** By the URL's host as written (the WHATWG parser lower-cases names and normalises 127.1 to 127.0.0.1); no DNS. */
function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  if (hostname === '[::1]') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}

/** Whether the user allowed plain http beyond loopback: the flag, or SLUICE_ALLOW_INSECURE_HTTP=1. */
export function plainHttpAllowed(flag: boolean, env: NodeJS.ProcessEnv): boolean {
  return flag || env.SLUICE_ALLOW_INSECURE_HTTP === '1';
}
