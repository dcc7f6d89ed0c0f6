import type { InferEntity } from '@mikro-orm/core';
import type { ApiScope } from '../access/roles.js';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { User } from '../tenancy/user.entity.js';
import { IdentityProvider } from './identity-provider.entity.js';

/** A program's credential in one tenant. Only the SHA-256 of its secret is stored. */
export const ApiKey = defineTenantOwnedEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: (p) => ({
    name: p.string().length(100),
    /** The first characters of the key (`slk_` + 8), shown to tell keys apart. */
    prefix: p.string().length(16),
    secretHash: p.string().length(64).hidden(),
    scopes: p.array((value) => value as ApiScope),
    createdBy: () => p.manyToOne(User).deleteRule('set null').nullable(),
    /**
     * The credential that minted it, if not a person's sign-in: a key, or an external identity's
     * provider. Revoking that key, or disabling or removing that provider, revokes this key too
     * (credential-children.ts), so a credential leaves nothing of itself behind.
     */
    createdByApiKey: () => p.manyToOne(ApiKey).deleteRule('set null').nullable(),
    createdByProvider: () => p.manyToOne(IdentityProvider).deleteRule('set null').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Null: never expires (only an OWNER may create such a key). */
    expiresAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    /** Set when the key was rotated: the successor, and the end of the old key's grace period. */
    replacedBy: () => p.manyToOne(ApiKey).deleteRule('set null').nullable(),
  }),
  // Authentication looks a key up by hash before the tenant is known (a SECURITY DEFINER
  // function); the unique index still leads with tenant_id, like every unique index here.
  uniques: [{ properties: ['tenant', 'secretHash'] }],
  // By prefix: a refused key that names one of a tenant's keys is recorded in that tenant's trail.
  indexes: [{ properties: ['secretHash'] }, { properties: ['prefix'] }],
  checks: [{ name: 'api_keys_scopes_check', expression: "cardinality(scopes) > 0 and scopes <@ array['read', 'write', 'admin']::text[]" }],
});
export type ApiKey = InferEntity<typeof ApiKey>;
