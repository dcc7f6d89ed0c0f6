/**
 * A credential never makes one that outlives it. A key minted by a key, and an invitation a key
 * sends, end no later than that key and every key above it. Enforced twice, so neither alone
 * has to be right for every path:
 *
 * - when the child is made: an explicit later (or no) expiry is refused (`OUTLIVES_PARENT`), an
 *   omitted one defaults to the parent's end (`boundedByParent`, `clampedToParent`);
 * - when the child is used: authentication refuses a key any of whose ancestors is expired or
 *   revoked (auth_api_key returns the chain's end: Migration20261207090000_key_chain_lifetimes),
 *   and accepting an invitation checks the key that sent it (`keyChainOf`). So a parent whose
 *   life is cut later (rotation ends it with its grace period) takes its children with it.
 *
 * Keys minted by people (sessions), the operator CLI and external identities have no parent key:
 * they answer to a person's membership, not to the lifetime of the token that asked.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '../errors.js';
import { ApiKey } from './api-key.entity.js';

export interface KeyChain {
  /** The earliest expiry of the key and the keys above it; null: none of them expires. */
  endsAt: Date | null;
  /** Whether the key or one above it is revoked. */
  revoked: boolean;
}

/** Walks up from `keyId` through the keys that minted it (in the current tenant). */
export async function keyChainOf(em: EntityManager, keyId: string): Promise<KeyChain> {
  let endsAt: Date | null = null;
  let revoked = false;
  const seen = new Set<string>();
  for (let id: string | null = keyId; id && !seen.has(id); ) {
    seen.add(id);
    const key: ApiKey | null = await em.findOne(ApiKey, { id });
    // A missing link (a deleted tenant's rows) ends nothing more: the rows below go with it.
    if (!key) break;
    endsAt = earlier(endsAt, key.expiresAt ?? null);
    revoked ||= key.revokedAt != null;
    id = key.createdByApiKey?.id ?? null;
  }
  return { endsAt, revoked };
}

/** The sooner of two ends, null meaning never. */
export function earlier(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a <= b ? a : b;
}

/** A lifetime the caller did not ask for (a default, a rotation's successor): cut to the parent's end. */
export function clampedToParent(expiresAt: Date | null, notAfter: Date | null): Date | null {
  return earlier(expiresAt, notAfter);
}

/**
 * A lifetime the caller asked for: refused if it ends after the parent (null, never, always
 * does when the parent ends), so nobody is handed a shorter key than they think they have.
 */
export function boundedByParent(expiresAt: Date | null, notAfter: Date | null): Date | null {
  if (notAfter && (expiresAt === null || expiresAt > notAfter)) {
    throw new ValidationError(`expiresAt may be no later than the key that creates it, which expires at ${notAfter.toISOString()}`, {
      field: 'expiresAt',
      reason: 'OUTLIVES_PARENT',
      latest: notAfter.toISOString(),
    });
  }
  return expiresAt;
}
