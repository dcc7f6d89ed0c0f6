/** Opaque credentials: random, prefixed so a leaked one says what it is, stored only as hashes. */
import { createHash, randomBytes } from 'node:crypto';

export const CREDENTIAL_PREFIX = { apiKey: 'slk_', refreshToken: 'slr_', invitation: 'sli_' } as const;

/** `prefix` + 43 base64url characters (256 bits of randomness). */
export function newOpaqueToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 (hex): enough for 256-bit random tokens, and fast enough to check on every request. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function looksLike(token: string, prefix: string): boolean {
  return token.startsWith(prefix) && /^[A-Za-z0-9_-]{43}$/.test(token.slice(prefix.length));
}

/** The first characters of an API key (`slk_` + 8), shown to tell keys apart; never enough to use it. */
export function shownPrefix(key: string): string {
  return key.slice(0, CREDENTIAL_PREFIX.apiKey.length + 8);
}
