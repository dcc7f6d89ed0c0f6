/**
 * Which addresses Sluice's outbound requests may reach: the guard against server-side request
 * forgery. Tenants choose URLs Sluice calls from inside its own network (a model's `baseUrl`,
 * an identity provider's `jwksUrl`); without a guard, `http://169.254.169.254/…` (cloud
 * metadata), `http://10.0.0.5/…` or `http://localhost:5432` would be reachable through them.
 *
 * Two tiers:
 * - **never**: cloud metadata services and link-local addresses, in every mode, development
 *   included, whatever the operator lists. Nothing Sluice legitimately calls lives there, and
 *   they hand out cloud credentials.
 * - **private** (loopback, RFC 1918, shared, multicast, reserved, the IPv6 equivalents): per
 *   SLUICE_EGRESS_PRIVATE_NETWORKS: `deny` (production's default) refuses them except the
 *   CIDRs listed; `allow` (the default elsewhere, for local model servers) lets them through.
 *
 * guard.ts applies the policy when a connection is made; `refusalOfUrl` gives the early,
 * clear error when a URL is stored.
 */
import { BlockList, isIP } from 'node:net';

export type PrivateNetworkPolicy = { mode: 'allow' } | { mode: 'deny'; except: string[] };

/** Why an address is refused: `METADATA_ADDRESS` in every mode, `PRIVATE_ADDRESS` by policy. */
export type EgressRefusal = 'METADATA_ADDRESS' | 'PRIVATE_ADDRESS';

type Range = [string, number, 'ipv4' | 'ipv6'];

/** Refused in every mode: link-local (where every cloud's metadata service answers) and the metadata addresses outside it. */
const NEVER: Range[] = [
  ['169.254.0.0', 16, 'ipv4'], // AWS, GCP, Azure, OCI metadata (169.254.169.254), ECS task metadata
  ['100.100.100.200', 32, 'ipv4'], // Alibaba Cloud metadata
  ['168.63.129.16', 32, 'ipv4'], // Azure WireServer
  ['fe80::', 10, 'ipv6'],
  ['fd00:ec2::', 32, 'ipv6'], // AWS metadata over IPv6 (fd00:ec2::254) and its DNS and time servers
];

/** RFC 6890 special-purpose ranges a public server is never in. */
const SPECIAL_PURPOSE: Range[] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  // IPv4-compatible (::/96, with :: and ::1), and the ranges that carry an IPv4 address
  // inside (NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32): a
  // private IPv4 address could be reached through them. (IPv4-mapped ::ffff:0:0/96 and SIIT
  // ::ffff:0:0:0/96 are judged as the IPv4 address they carry: `refusalOf`.)
  ['::', 96, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['2001::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  // Site-local, deprecated but still routed inside some networks.
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** Host names of metadata services, refused before any lookup (they resolve into NEVER anyway). */
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

function blockList(ranges: Range[]): BlockList {
  const list = new BlockList();
  for (const [network, prefix, family] of ranges) list.addSubnet(network, prefix, family);
  return list;
}
const never = blockList(NEVER);
const special = blockList(SPECIAL_PURPOSE);

export class EgressRefusedError extends Error {
  constructor(
    readonly host: string,
    readonly reason: EgressRefusal,
    /**
     * Refused for what a host name resolved to (not for an IP literal or a name refused as
     * written): whoever chose the name must not learn this, or the guard answers "does this
     * internal name exist, and where" (guard.ts, models/providers/openai-http.ts).
     */
    readonly afterLookup = false,
  ) {
    super(
      reason === 'METADATA_ADDRESS'
        ? `${host} is a cloud metadata or link-local address, which this server never calls`
        : `${host} is in a private or reserved network, which this server does not call (SLUICE_EGRESS_PRIVATE_NETWORKS)`,
    );
    this.name = 'EgressRefusedError';
  }
}

/** Parses `deny`, `allow`, or `deny` with exceptions: a comma-separated list of CIDRs. */
export function parsePrivateNetworkPolicy(value: string): PrivateNetworkPolicy {
  const trimmed = value.trim();
  if (trimmed === 'allow') return { mode: 'allow' };
  if (trimmed === 'deny') return { mode: 'deny', except: [] };
  const except = trimmed.split(',').map((cidr) => cidr.trim()).filter(Boolean);
  for (const cidr of except) {
    const [network, prefix] = cidr.split('/');
    const family = isIP(network ?? '');
    if (!family || !/^\d{1,3}$/.test(prefix ?? '') || Number(prefix) > (family === 4 ? 32 : 128)) {
      throw new Error(`"${cidr}" is not a CIDR (e.g. 10.1.0.0/16 or fd00::/8); give allow, deny, or CIDRs to allow`);
    }
  }
  return { mode: 'deny', except };
}

/** Why the policy refuses this IP address, or undefined when it may be called. */
export function refusalOf(policy: PrivateNetworkPolicy, address: string): EgressRefusal | undefined {
  // An IPv4-mapped (::ffff:10.0.0.1) or SIIT (::ffff:0:10.0.0.1) IPv6 address is the IPv4
  // address it carries, in either spelling (::ffff:a00:1): it reaches that address.
  const plain = translatedIPv4(address) ?? address;
  const family = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
  const embedded = family === 'ipv6' ? embeddedIPv4(plain) : undefined;
  if (never.check(plain, family) || (embedded && never.check(embedded, 'ipv4'))) return 'METADATA_ADDRESS';
  if (policy.mode === 'allow' || !special.check(plain, family)) return undefined;
  return exceptions(policy).check(plain, family) ? undefined : 'PRIVATE_ADDRESS';
}

/** Whether the policy refuses this IP address. */
export function refusesAddress(policy: PrivateNetworkPolicy, address: string): boolean {
  return refusalOf(policy, address) !== undefined;
}

/**
 * Why a URL's host is refused before any lookup: an IP literal by its address, a metadata
 * service's name, and `localhost` (RFC 6761: always loopback) as loopback. Other names are
 * judged when connecting, by the addresses they resolve to.
 */
export function refusalOfHost(policy: PrivateNetworkPolicy, hostname: string): EgressRefusal | undefined {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (isIP(host)) return refusalOf(policy, host);
  if (METADATA_NAMES.has(host)) return 'METADATA_ADDRESS';
  if (host === 'localhost' || host.endsWith('.localhost')) return refusalOf(policy, '127.0.0.1');
  return undefined;
}

/** For a URL about to be stored or called: throws EgressRefusedError when its host is refused. */
export function assertCallableUrl(policy: PrivateNetworkPolicy, url: string): void {
  const host = new URL(url).hostname;
  const refusal = refusalOfHost(policy, host);
  if (refusal) throw new EgressRefusedError(host.replace(/^\[|\]$/g, ''), refusal);
}

const exceptionLists = new WeakMap<PrivateNetworkPolicy, BlockList>();
function exceptions(policy: PrivateNetworkPolicy & { mode: 'deny' }): BlockList {
  let list = exceptionLists.get(policy);
  if (!list) {
    list = blockList(policy.except.map((cidr) => {
      const [network, prefix] = cidr.split('/') as [string, string];
      return [network, Number(prefix), isIP(network) === 6 ? 'ipv6' : 'ipv4'];
    }));
    exceptionLists.set(policy, list);
  }
  return list;
}

const v4 = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;

/** The IPv4 address of an IPv4-mapped (::ffff:0:0/96) or SIIT (::ffff:0:0:0/96, RFC 6052 §2.1) address. */
function translatedIPv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const words = ipv6Words(address);
  if (!words || !words.slice(0, 4).every((word) => word === 0)) return undefined;
  const mapped = words[4] === 0 && words[5] === 0xffff;
  const siit = words[4] === 0xffff && words[5] === 0;
  return mapped || siit ? v4(words[6]!, words[7]!) : undefined;
}

/**
 * The IPv4 address an IPv6 address carries, for the ranges that route to one: IPv4-compatible
 * (::a.b.c.d), NAT64 (64:ff9b::/96, 64:ff9b:1::/48, in the last 32 bits), 6to4 (2002::/16,
 * bits 16–47) and Teredo (2001::/32: the client's address, inverted, in the last 32 bits). So
 * metadata stays refused in `allow` mode when written as 64:ff9b::a9fe:a9fe.
 */
function embeddedIPv4(address: string): string | undefined {
  const words = ipv6Words(address);
  if (!words) return undefined;
  const zeros = (from: number, to: number) => words.slice(from, to).every((word) => word === 0);
  if (words[0] === 0x2002) return v4(words[1]!, words[2]!);
  if (words[0] === 0x2001 && words[1] === 0) return v4(words[6]! ^ 0xffff, words[7]! ^ 0xffff);
  if ((words[0] === 0x64 && words[1] === 0xff9b && (zeros(2, 6) || words[2] === 1)) || zeros(0, 6)) return v4(words[6]!, words[7]!);
  return undefined;
}

/** The eight 16-bit words of an IPv6 address (with a dotted IPv4 tail, if any). */
function ipv6Words(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(':').map((word) => parseInt(word, 16)) : []);
  const start = part(head);
  const end = part(tail);
  const words = tail === undefined ? start : [...start, ...new Array(8 - start.length - end.length).fill(0), ...end];
  return words.length === 8 && words.every((word) => Number.isInteger(word)) ? words : undefined;
}
