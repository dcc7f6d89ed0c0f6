/**
 * The caller's IP address, for per-IP limits and the logs: the TCP peer, unless Sluice is told
 * how many proxies stand in front of it (`SLUICE_TRUST_PROXY`). Only then is `X-Forwarded-For`
 * read, and only the entries those proxies appended: anything further left was written by the
 * client and could be anything, so believing it would let a caller pick its own rate-limit key.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** The client address of `req` given `trustProxyHops` trusted proxies; 'unknown' without a socket. */
export function clientIpOf(req: IncomingMessage | undefined, trustProxyHops: number): string {
  const peer = normalize(req?.socket?.remoteAddress);
  if (trustProxyHops <= 0 || !req) return peer ?? 'unknown';
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((entry) => entry.trim()).filter(Boolean);
  // The chain as the last proxy saw it: [...what clients and proxies wrote, the peer itself].
  const chain = [...forwarded, peer ?? 'unknown'];
  const candidate = normalize(chain[Math.max(0, chain.length - 1 - trustProxyHops)]);
  return candidate ?? peer ?? 'unknown';
}

/** A plain IP address (IPv4-mapped IPv6 as IPv4), or undefined when `value` is none. */
function normalize(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const address = value.startsWith('::ffff:') && isIP(value.slice(7)) === 4 ? value.slice(7) : value;
  return isIP(address) ? address : undefined;
}
