/** What the audit trail shows of an API key: never its secret or hash. */
import type { ApiKey } from './api-key.entity.js';

export function shownKey(key: ApiKey) {
  return { name: key.name, prefix: key.prefix, scopes: key.scopes, expiresAt: key.expiresAt ?? null, revokedAt: key.revokedAt ?? null };
}
