/**
 * `defineEntity` for tenant-owned entities: the id, the owning tenant and the tenant filter come
 * with the definition, so no tenant-owned entity can leave its filter out. (Membership spells
 * them out: see membership.entity.ts.)
 *
 * A function rather than a base entity (`extends`): in MikroORM 6.6 filters and properties are
 * inherited at run time, but `defineEntity`'s types neither see a base's properties (the
 * inferred entity would have no `tenant`) nor accept them in `uniques`/`indexes`.
 */
import { randomUUID } from 'node:crypto';
import { defineEntity, p, type EntityMetadataWithProperties } from '@mikro-orm/core';
import { tenantFilter } from '../../db/tenant-session.js';
import { Tenant } from './tenant.entity.js';

type PropertyBuilders = typeof p;

/** First in every tenant-owned table: its id, then `tenant_id` (deleting a tenant deletes its rows). */
function tenantOwnedHeader(builders: PropertyBuilders) {
  return {
    id: builders.uuid().primary().onCreate(() => randomUUID()),
    tenant: () => builders.manyToOne(Tenant).deleteRule('cascade'),
  };
}

type TenantOwnedHeader = ReturnType<typeof tenantOwnedHeader>;

/**
 * Like `defineEntity`, with `properties` a function of the property builders that returns the
 * entity's own properties (not `id` and `tenant`). The ORM's tenant filter is on by default and
 * strict (db/tenant-session.ts); PostgreSQL's row-level security guards the table on its own.
 */
export function defineTenantOwnedEntity<TProperties extends Record<string, any>>(
  meta: Omit<EntityMetadataWithProperties<TenantOwnedHeader & TProperties>, 'properties' | 'filters'> & {
    properties: (builders: PropertyBuilders) => TProperties;
  },
) {
  return defineEntity<TenantOwnedHeader & TProperties>({
    ...meta,
    properties: (builders) => ({ ...tenantOwnedHeader(builders), ...meta.properties(builders) }),
    filters: { tenant: tenantFilter() },
  });
}
