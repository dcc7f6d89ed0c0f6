/**
 * What a bucket is keyed by. Keys hold no address, email or id in clear: each is
 * `<limit>:<sha256 of the identity>`. A plain hash of an IPv4 address or a known email can be
 * reversed by trying candidates, so in Redis (which other systems may read) the whole key is
 * digested again under the master key (redis-buckets.ts).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * What a principal key needs of the caller: the shape of domains/actor.ts's Actor (which
 * satisfies it), spelled out here so the limits do not depend on the domain.
 */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; tenantId: string; userId: string }
  | { kind: 'apiKey'; tenantId: string; apiKeyId: string }
  | { kind: 'external'; tenantId: string; issuer: string; subject: string };

export function bucketKey(limit: string, identity: string): string {
  return `${limit}:${createHash('sha256').update(identity).digest('base64url').slice(0, 32)}`;
}

/**
 * The principal behind a request, within its tenant: a user, an API key, or an external
 * identity (issuer and subject); null for anonymous callers (only their IP is limited). Keyed
 * per tenant because the limit itself is a tenant setting.
 */
export function principalOf(actor: Principal): string | null {
  switch (actor.kind) {
    case 'anonymous':
      return null;
    case 'user':
      return `${actor.tenantId}/user/${actor.userId}`;
    case 'apiKey':
      return `${actor.tenantId}/apiKey/${actor.apiKeyId}`;
    case 'external':
      return `${actor.tenantId}/external/${actor.issuer}#${actor.subject}`;
  }
}

/**
 * The address a per-IP limit counts: IPv4 as is, IPv6 by its /64 network. One IPv6 host
 * usually holds a whole /64 and can pick a fresh address per request; limiting single
 * addresses would limit nothing.
 */
export function ipIdentity(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  // An IPv4 tail (::ffff:1.2.3.4) is two groups; only the first four groups matter here anyway.
  const missing = 8 - left.length - right.length - (right.at(-1)?.includes('.') ? 1 : 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
