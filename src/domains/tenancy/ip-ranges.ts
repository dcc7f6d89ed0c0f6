/**
 * A tenant's IP allow-list: CIDR ranges (IPv4 or IPv6; a bare address is a /32 or /128) its
 * credentials may be used from. Checked with node's BlockList.
 */
import { BlockList, isIP } from 'node:net';
import { ValidationError } from '../errors.js';

export const MAX_RANGES = 100;

export interface AllowList {
  ranges: string[];
  allows(ip: string): boolean;
}

/** The normalised ranges, or a BAD_USER_INPUT naming the first that is not one. */
export function validRanges(ranges: readonly string[]): string[] {
  if (ranges.length > MAX_RANGES) throw new ValidationError(`ipAllowList holds at most ${MAX_RANGES} ranges`, { field: 'ipAllowList' });
  return ranges.map((range) => {
    const [address = '', prefix, extra] = range.trim().split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    if (!family || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32) || (prefix !== undefined && !/^\d+$/.test(prefix))) {
      throw new ValidationError(`${JSON.stringify(range)} is not an IP address or CIDR range`, { field: 'ipAllowList', range });
    }
    return `${address.toLowerCase()}/${bits}`;
  });
}

export function allowList(ranges: readonly string[]): AllowList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address, bits] = range.split('/');
    list.addSubnet(address!, Number(bits), isIP(address!) === 6 ? 'ipv6' : 'ipv4');
  }
  return {
    ranges: [...ranges],
    allows(ip) {
      // IPv4 clients on a dual-stack socket arrive as ::ffff:a.b.c.d.
      const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
      const family = isIP(plain);
      return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
