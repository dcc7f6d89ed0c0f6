/**
 * JSON Web Keys (RFC 7517/7518): which members of a key are public, which hold a private or
 * symmetric key, and what identifies a key without holding any of it (RFC 7638 thumbprint).
 * Used where a key set is accepted (only public keys), recorded (the audit trail keeps only
 * what identifies each key) and logged (a private member is never written).
 */
import { createHash } from 'node:crypto';

/**
 * The members a token's verifier reads of a public key (jose's createLocalJWKSet): its type and
 * parameters (RSA `n`, `e`; EC and OKP `crv`, `x`, `y`), and what picks it for a token and limits
 * it (`kid`, `alg`, `use`, `key_ops`). Where a key set is kept, every other member is dropped:
 * certificates (`x5c`, `x5t`, `x5u`), WebCrypto's `ext`, an issuer's own extras (Microsoft Entra's
 * `issuer`, `cloud_instance_name`) verify nothing, and a member nobody reads is not stored.
 */
export const JWK_VERIFICATION_MEMBERS: ReadonlySet<string> = new Set(['kty', 'n', 'e', 'crv', 'x', 'y', 'kid', 'alg', 'use', 'key_ops']);

/**
 * The members that hold a key's secret: an EC, OKP or RSA private key's `d`, RSA's primes and
 * CRT values (`p`, `q`, `dp`, `dq`, `qi`, and `oth` for more primes, whose members `r`, `d`, `t`
 * are inside it), a symmetric key's `k`.
 */
export const JWK_PRIVATE_MEMBERS: ReadonlySet<string> = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/**
 * Whether `name`, a member of `object`, holds a key's secret: one of JWK_PRIVATE_MEMBERS in an
 * object that is a JWK (it names its `kty`). Only there: elsewhere `d`, `p`, `q` or `k` are
 * ordinary names (a page number, a query), which a rule on the name alone would hide.
 */
export function isJwkPrivateMember(object: object, name: string): boolean {
  return JWK_PRIVATE_MEMBERS.has(name) && Object.hasOwn(object, 'kty');
}

/** The members RFC 7638 digests, per key type: public ones only (an `oct` key has none). */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const NAME = /^[A-Za-z0-9+#._:/-]{1,128}$/;

/**
 * The RFC 7638 SHA-256 thumbprint of a public key (base64url), or null when it has none: a
 * type other than RSA, EC or OKP, or a required member missing or not base64url (a value cut
 * or masked where it was recorded). Written here rather than with jose's
 * `calculateJwkThumbprint`, which is asynchronous: the audit trail keeps values synchronously.
 */
export function jwkThumbprint(key: Record<string, unknown>): string | null {
  const members = THUMBPRINT_MEMBERS[String(key.kty)];
  if (!members) return null;
  const values = members.map((member) => key[member]);
  if (values.some((value, i) => typeof value !== 'string' || (members[i] !== 'kty' && members[i] !== 'crv' && !BASE64URL.test(value)))) return null;
  // Members in lexicographic order, no blanks: the required form (RFC 7638, section 3.2).
  const canonical = `{${members.map((member, i) => `${JSON.stringify(member)}:${JSON.stringify(values[i])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** What identifies one key, and nothing else of it. */
export interface KeyIdentification {
  kty: string | null;
  kid: string | null;
  alg: string | null;
  use: string | null;
  crv: string | null;
  thumbprint: string | null;
  /** The names of the private members it was given with (never their values). */
  privateMembers?: string[];
}

/** At most this many keys of a set are identified. */
const MAX_KEYS = 50;

/**
 * What the audit trail keeps of a value given as a key set (or a key): per key, its type, id,
 * algorithm, use, curve and thumbprint; the names of any private members given, never their
 * values; nothing else of the value. `given` says what it was: a `set` (`{keys: […]}`), a bare
 * `key` (an object with `kty`), or `other` (its JSON type).
 */
export function keySetIdentification(value: unknown): { given: string; count: number; ids: KeyIdentification[] } {
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  const keys = isRecord(parsed) ? parsed.keys : undefined;
  if (Array.isArray(keys)) return { given: 'set', count: keys.length, ids: keys.slice(0, MAX_KEYS).map(identify) };
  if (isRecord(parsed) && 'kty' in parsed) return { given: 'key', count: 1, ids: [identify(parsed)] };
  return { given: 'other', count: 0, ids: [] };
}

function identify(key: unknown): KeyIdentification {
  if (!isRecord(key)) return { kty: null, kid: null, alg: null, use: null, crv: null, thumbprint: null };
  // Names only where they read as names: a kid of arbitrary text is not kept (it could be anything).
  const name = (member: string) => (typeof key[member] === 'string' && NAME.test(key[member] as string) ? (key[member] as string) : null);
  const privateMembers = Object.keys(key).filter((member) => JWK_PRIVATE_MEMBERS.has(member));
  return {
    kty: name('kty'),
    kid: name('kid'),
    alg: name('alg'),
    use: name('use'),
    crv: name('crv'),
    thumbprint: jwkThumbprint(key),
    ...(privateMembers.length > 0 ? { privateMembers } : {}),
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> => value != null && typeof value === 'object' && !Array.isArray(value);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
