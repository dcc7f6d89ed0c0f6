import type { InferEntity } from '@mikro-orm/core';
import { ROLES } from './roles.js';
import { defineTenantOwnedEntity } from './tenant-owned.js';
import { User } from './user.entity.js';

/** A user's role in one tenant. Tenant-owned: filtered by the ORM and guarded by RLS. */
export const Membership = defineTenantOwnedEntity({
  name: 'Membership',
  tableName: 'memberships',
  properties: (p) => ({
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    role: p.enum([...ROLES]),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
  uniques: [{ properties: ['tenant', 'user'] }],
});

export type Membership = InferEntity<typeof Membership>;
