import type { InferEntity } from '@mikro-orm/core';
import { Endpoint } from '../endpoints/endpoint.entity.js';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';

/**
 * A rule on one endpoint: its `type` names a registered policy type (policy-types/), whose
 * zod schema validated `configuration` when it was stored. Disabled policies are kept but
 * not evaluated.
 */
export const Policy = defineTenantOwnedEntity({
  name: 'Policy',
  tableName: 'policies',
  properties: (p) => ({
    endpoint: () => p.manyToOne(Endpoint).deleteRule('cascade'),
    type: p.string().length(32),
    configuration: p.json<Record<string, unknown>>(),
    enabled: p.boolean().default(true),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  indexes: [{ properties: ['tenant', 'endpoint', 'createdAt'] }],
});
export type Policy = InferEntity<typeof Policy>;
