import type { InferEntity } from '@mikro-orm/core';
import { ROLES, type Role } from '../access/roles.js';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { User } from '../tenancy/user.entity.js';

/**
 * An external issuer a tenant trusts: its tokens (verified against its JWKS) act as `external`
 * actors in the tenant, with email and role read from claims.
 */
export const IdentityProvider = defineTenantOwnedEntity({
  name: 'IdentityProvider',
  tableName: 'identity_providers',
  properties: (p) => ({
    name: p.string().length(100),
    issuer: p.string().length(500),
    audience: p.string().length(500),
    /** Where the issuer publishes its keys; or `jwks`, a key set given inline. */
    jwksUrl: p.string().length(2000).nullable(),
    jwks: p.json<{ keys: Record<string, unknown>[] }>().nullable(),
    emailClaim: p.string().length(100).default('email'),
    /** Claim holding the caller's role name(s); absent: everyone gets `defaultRole`. */
    roleClaim: p.string().length(100).nullable(),
    /** Claim value → Sluice role, e.g. { "partner-admin": "ADMIN" }. */
    roleMapping: p.json<Record<string, Role>>().default('{}'),
    defaultRole: p.enum([...ROLES]).default('VIEWER'),
    createdAt: p.datetime().onCreate(() => new Date()),
    /**
     * The person who answers for the provider (who registered or last re-enabled it): its tokens
     * are refused once that person is no longer an OWNER or ADMIN of the tenant.
     */
    registeredBy: () => p.manyToOne(User).deleteRule('set null').nullable(),
    /** Whether a person answered for it: if so and `registeredBy` is now null, their account is gone. */
    registeredByPerson: p.boolean().default(false),
    /** Set while the provider is disabled: its tokens are refused until an OWNER or ADMIN enables it. */
    disabledAt: p.datetime().nullable(),
    /** Why: `registrar-removed`, `registrar-demoted` or `disabled` (by hand). */
    disabledReason: p.string().length(32).nullable(),
  }),
  uniques: [{ properties: ['tenant', 'issuer'] }],
  indexes: [{ properties: ['issuer'] }],
});
export type IdentityProvider = InferEntity<typeof IdentityProvider>;
