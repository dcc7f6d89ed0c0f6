import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { tenantFilter } from '../../db/tenant-session.js';
import { Endpoint } from '../endpoints/endpoint.entity.js';
import { Tenant } from '../tenancy/tenant.entity.js';

/**
 * A rule on one endpoint: its `type` names a registered policy type (policy-types/), whose
 * zod schema validated `configuration` when it was stored. Disabled policies are kept but
 * not evaluated.
 */
export const Policy = defineEntity({
  name: 'Policy',
  tableName: 'policies',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    tenant: () => p.manyToOne(Tenant).deleteRule('cascade'),
    endpoint: () => p.manyToOne(Endpoint).deleteRule('cascade'),
    type: p.string().length(32),
    configuration: p.json<Record<string, unknown>>(),
    enabled: p.boolean().default(true),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  indexes: [{ properties: ['tenant', 'endpoint', 'createdAt'] }],
  filters: { tenant: tenantFilter() },
});
export type Policy = InferEntity<typeof Policy>;
