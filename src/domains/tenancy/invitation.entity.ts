import type { InferEntity } from '@mikro-orm/core';
import { ROLES } from '../access/roles.js';
import { defineTenantOwnedEntity } from './tenant-owned.js';
import { User } from './user.entity.js';

/** A single-use, expiring offer of a role in a tenant, to one email address. */
export const Invitation = defineTenantOwnedEntity({
  name: 'Invitation',
  tableName: 'invitations',
  properties: (p) => ({
    /** Lower-cased. */
    email: p.string().length(320),
    role: p.enum([...ROLES]),
    tokenHash: p.string().length(64).hidden(),
    /**
     * The person who answers for the invitation: the inviter, a key's creator, or the registrar
     * of an external inviter's identity provider. Acceptance holds it to their current role.
     */
    invitedBy: () => p.manyToOne(User).deleteRule('set null').nullable(),
    /** Whether a person answered for it: if so and `invitedBy` is now null, their account is gone. */
    invitedByPerson: p.boolean().default(false),
    /**
     * The credential that made it, if not a person's sign-in: an API key, or an external
     * identity's provider. Revoking the key, or disabling or removing the provider, revokes the
     * invitation (identity/credential-children.ts). Plain ids rather than relations: tenancy
     * does not import identity (domain folders form a hierarchy).
     */
    createdByApiKeyId: p.uuid().nullable(),
    createdByProviderId: p.uuid().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    acceptedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  }),
  uniques: [{ properties: ['tenant', 'tokenHash'] }],
  indexes: [{ properties: ['tokenHash'] }],
});
export type Invitation = InferEntity<typeof Invitation>;
