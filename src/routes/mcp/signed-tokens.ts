/**
 * Tokens the MCP server hands a client and must recognise later without storing anything (it
 * is stateless: any API instance answers any request): a `tools/list` cursor, an anonymous
 * caller's session id. A token is `<value>.<mac>`, the mac a keyed digest (HMAC under the
 * master key, platform/secrets/secret-box.ts) of the value and what it is bound to (a route, a
 * caller), which the token does not carry: a client can neither forge one nor use it elsewhere.
 */
import { timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../../platform/secrets/secret-box.js';

export type KeyedDigests = Pick<SecretBox, 'digest' | 'digestsUnderEveryKey'>;

/** 128 bits of the HMAC: enough against guessing, short enough for a header. */
const MAC_CHARS = 32;

/** `value` (visible ASCII without `.`) signed for `purpose`, bound to `boundTo`. */
export function signedToken(keys: KeyedDigests, purpose: string, value: string, boundTo: string): string {
  return `${value}.${keys.digest(purpose, macInput(value, boundTo)).digest.slice(0, MAC_CHARS)}`;
}

/** The value of a token `signedToken` made for the same purpose and binding (under any configured master key), else null. */
export function verifiedToken(keys: KeyedDigests, purpose: string, token: string | null | undefined, boundTo: string): string | null {
  if (typeof token !== 'string' || token.length > 512) return null;
  const dot = token.lastIndexOf('.');
  if (dot <= 0) return null;
  const value = token.slice(0, dot);
  const mac = Buffer.from(token.slice(dot + 1));
  const matches = keys.digestsUnderEveryKey(purpose, macInput(value, boundTo)).some((digest) => {
    const expected = Buffer.from(digest.slice(0, MAC_CHARS));
    return expected.length === mac.length && timingSafeEqual(expected, mac);
  });
  return matches ? value : null;
}

function macInput(value: string, boundTo: string): string {
  return JSON.stringify([value, boundTo]);
}
