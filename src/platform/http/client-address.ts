/**
 * The caller's IP address, for per-IP limits and the logs: the TCP peer, unless Sluice is told
 * how many proxies stand in front of it (`SLUICE_TRUST_PROXY`). Only then is `X-Forwarded-For`
 * read, and only the entries those proxies appended: anything further left was written by the
 * client and could be anything, so believing it would let a caller pick its own rate-limit key.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, SocketAddress } from 'node:net';

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

/** IPv6 prefixes that only carry an IPv4 address in their last 32 bits: IPv4-mapped, and NAT64's well-known prefix (RFC 6052). */
const CARRYING_IPV4 = new BlockList();
CARRYING_IPV4.addSubnet('::ffff:0:0', 96, 'ipv6');
CARRYING_IPV4.addSubnet('64:ff9b::', 96, 'ipv6');

/**
 * A plain IP address, IPv6 in its canonical form (RFC 5952) and an IPv4 address carried in
 * IPv6 as IPv4; undefined when `value` is none. An IPv4 client written `::FFFF:a.b.c.d` (or
 * `::ffff:0102:0304`, or behind NAT64) was once kept as IPv6, and every such client shared one
 * /64 in the per-address limits (attacker review, December).
 */
function normalize(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const family = isIP(value);
  if (family === 4) return value;
  if (family !== 6) return undefined;
  // node:net's own parser, which writes the canonical form (lower case, zeros compressed, no zone).
  const canonical = new SocketAddress({ address: value, family: 'ipv6' }).address;
  return CARRYING_IPV4.check(canonical, 'ipv6') ? lastIpv4Of(canonical) : canonical;
}

/** The IPv4 address in the last 32 bits of `canonical` (an IPv6 address as SocketAddress writes it). */
function lastIpv4Of(canonical: string): string {
  const tail = canonical.slice(canonical.lastIndexOf(':') + 1);
  if (isIP(tail) === 4) return tail;
  // Hex groups after the prefix's "::": zero, one or two of them (zeros compressed).
  const groups = canonical.split('::')[1]!.split(':').filter(Boolean).map((group) => Number.parseInt(group, 16));
  const [high = 0, low = 0] = groups.length === 2 ? groups : [0, groups[0] ?? 0];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}
