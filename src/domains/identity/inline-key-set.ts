/** An identity provider's inline key set: which are accepted, and what of them is stored. */
import { createLocalJWKSet } from 'jose';
import { JWK_PRIVATE_MEMBERS, JWK_VERIFICATION_MEMBERS } from '../../platform/secrets/json-web-keys.js';
import { ValidationError } from '../errors.js';

export interface InlineKeySet {
  keys: Record<string, unknown>[];
}

/** The key types of public-key algorithms: RSA (RS*, PS*), EC (ES*), OKP (EdDSA). */
const PUBLIC_KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);

const NOT_A_KEY_SET = 'jwks must be a JSON Web Key Set with keys';

/**
 * An inline key set as it is stored and shown: a JWKS jose accepts, of public keys only, each
 * with only the members its verifier reads (JWK_VERIFICATION_MEMBERS). A key holding a private
 * member is refused: the mistake is worth telling (and the key worth replacing at its issuer).
 * Any other member is dropped, not refused: published key sets carry harmless extras (WebCrypto's
 * `ext`, certificates, Microsoft Entra's `issuer`), and refusing them made such a set unusable
 * as published. Nothing of the set beyond its keys is kept either.
 */
export function parseInlineKeySet(value: unknown): InlineKeySet {
  const jwks = typeof value === 'string' ? safeJson(value) : value;
  const keys = isRecord(jwks) ? jwks.keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every(isRecord)) throw new ValidationError(NOT_A_KEY_SET, { field: 'jwks' });
  // A symmetric key (kty "oct", its secret in `k`) is no public key: stored here it would be
  // shown to every reader of the tenant's providers, and tokens are verified with public-key
  // algorithms only (external-tokens.ts), so it could never verify one either.
  if (keys.some((key) => !PUBLIC_KEY_TYPES.has(String(key.kty)))) {
    throw new ValidationError('jwks must hold public keys only (kty RSA, EC or OKP): a symmetric key ("oct") is a secret, and tokens are verified with RS, PS, ES or EdDSA algorithms', {
      field: 'jwks',
      reason: 'NOT_PUBLIC_KEY',
    });
  }
  // A private key is more than `d`: an RSA key's `p`, `q`, `dp`, `dq`, `qi` are enough to rebuild
  // it (until 2026-12-07 a key with those and no `d` was stored and shown). Named, never quoted.
  const privateMembers = [...new Set(keys.flatMap((key) => Object.keys(key).filter((member) => JWK_PRIVATE_MEMBERS.has(member))))];
  if (privateMembers.length > 0) {
    throw new ValidationError(`jwks must hold public keys only: ${privateMembers.join(', ')} ${privateMembers.length === 1 ? 'is a member' : 'are members'} of a private key; give the public key alone`, {
      field: 'jwks',
      reason: 'NOT_PUBLIC_KEY',
      members: privateMembers,
    });
  }
  const kept: InlineKeySet = { keys: keys.map(verificationMembers) };
  try {
    createLocalJWKSet(kept as Parameters<typeof createLocalJWKSet>[0]);
  } catch {
    throw new ValidationError('jwks is not a valid JSON Web Key Set', { field: 'jwks' });
  }
  return kept;
}

/**
 * A key's members its verifier reads, each of the type it reads (text; `key_ops` a list of text):
 * a kept member holding anything else (an object, a nested key) would be stored as it is.
 */
function verificationMembers(key: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const member of JWK_VERIFICATION_MEMBERS) {
    if (!Object.hasOwn(key, member)) continue;
    const value = key[member];
    const valid = member === 'key_ops' ? Array.isArray(value) && value.every((operation) => typeof operation === 'string') : typeof value === 'string';
    if (!valid) throw new ValidationError(`jwks: a key's "${member}" must be ${member === 'key_ops' ? 'a list of strings' : 'a string'}`, { field: 'jwks' });
    kept[member] = value;
  }
  return kept;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value != null && typeof value === 'object' && !Array.isArray(value);

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('jwks is not valid JSON', { field: 'jwks' });
  }
}
