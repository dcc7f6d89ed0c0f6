/**
 * Where model servers may be: the guard against server-side request forgery through a
 * model's `baseUrl`. A tenant ADMIN chooses that URL, and Sluice calls it from inside its own
 * network; without a guard, `http://169.254.169.254/…` (cloud metadata), `http://10.0.0.5/…` or
 * `http://localhost:5432` would be reachable through it.
 *
 * With `deny` (the default in production), addresses in private, loopback, link-local,
 * shared, multicast and reserved ranges are refused, except the CIDRs the operator lists:
 * - at configuration time, for a `baseUrl` whose host is an IP literal (an early, clear error);
 * - at connection time, for every host: the connection's own DNS lookup drops refused
 *   addresses, so a name that resolves (or re-resolves, "DNS rebinding") to one is never
 *   connected to. IP literals skip DNS, so they are checked again before each request.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent } from 'undici';

export type PrivateNetworkPolicy = { mode: 'allow' } | { mode: 'deny'; except: string[] };

/** RFC 6890 special-purpose ranges a public model server is never in. */
const SPECIAL_PURPOSE: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  // IPv4-compatible (::/96, with :: and ::1), and the ranges that carry an IPv4 address
  // inside (NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16): a private IPv4 address
  // could be reached through them.
  ['::', 96, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  // Site-local, deprecated but still routed inside some networks.
  ['fec0::', 10, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const special = new BlockList();
for (const [network, prefix, family] of SPECIAL_PURPOSE) special.addSubnet(network, prefix, family);

export class PrivateAddressError extends Error {
  constructor(readonly host: string) {
    super(`${host} is in a private or reserved network, which this server does not call (SLUICE_MODEL_PRIVATE_NETWORKS)`);
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

/** Whether the policy refuses this IP address. */
export function refusesAddress(policy: PrivateNetworkPolicy, address: string): boolean {
  if (policy.mode === 'allow') return false;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const plain = mapped ?? address;
  const family = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
  if (!special.check(plain, family)) return false;
  return !exceptions(policy).check(plain, family);
}

const exceptionLists = new WeakMap<PrivateNetworkPolicy, BlockList>();
function exceptions(policy: PrivateNetworkPolicy & { mode: 'deny' }): BlockList {
  let list = exceptionLists.get(policy);
  if (!list) {
    list = new BlockList();
    for (const cidr of policy.except) {
      const [network, prefix] = cidr.split('/') as [string, string];
      list.addSubnet(network, Number(prefix), isIP(network) === 6 ? 'ipv6' : 'ipv4');
    }
    exceptionLists.set(policy, list);
  }
  return list;
}

/** For a URL about to be called or stored: throws PrivateAddressError for a refused IP literal. */
export function assertCallableUrl(policy: PrivateNetworkPolicy, url: string): void {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && refusesAddress(policy, host)) throw new PrivateAddressError(host);
}

/**
 * The HTTP agent model calls go through: under `deny`, its DNS lookup keeps only allowed
 * addresses and fails the connection when none is left. Undefined under `allow`.
 */
export function guardedAgent(policy: PrivateNetworkPolicy): Agent | undefined {
  if (policy.mode === 'allow') return undefined;
  return new Agent({
    connect: {
      lookup(hostname, options, callback) {
        dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
          if (error) return callback(error, '', 0);
          const allowed = addresses.filter((entry) => !refusesAddress(policy, entry.address));
          if (allowed.length === 0) return callback(new PrivateAddressError(hostname), '', 0);
          if ((options as { all?: boolean }).all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, allowed);
          return callback(null, allowed[0]!.address, allowed[0]!.family);
        });
      },
    },
  });
}
