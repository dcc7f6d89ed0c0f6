import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { tenantFilter } from '../../db/tenant-session.js';
import { ROLES } from '../access/roles.js';
import { Tenant } from './tenant.entity.js';
import { User } from './user.entity.js';

/**
 * A user's role in one tenant. Tenant-owned: filtered by the ORM and guarded by RLS.
 *
 * The one tenant-owned entity that spells out its header (id, tenant, filter) instead of using
 * defineTenantOwnedEntity: Tenant's `memberships` collection imports this file, so using
 * tenant-owned.ts here (which imports Tenant) would close a circle through a non-entity module,
 * one that can be entered before tenant-owned.ts has loaded.
 */
export const Membership = defineEntity({
  name: 'Membership',
  tableName: 'memberships',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    tenant: () => p.manyToOne(Tenant).deleteRule('cascade'),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    role: p.enum([...ROLES]),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
  uniques: [{ properties: ['tenant', 'user'] }],
  filters: { tenant: tenantFilter() },
});

export type Membership = InferEntity<typeof Membership>;
