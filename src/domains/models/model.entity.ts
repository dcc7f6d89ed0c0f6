import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';

/**
 * A model a tenant's endpoints answer with: a registered type (providers/) and its validated,
 * non-secret configuration. A provider API key is stored sealed (platform/secrets/secret-box.ts)
 * with the id of the master key that sealed it and its last four characters, which is all the
 * API ever shows.
 * Prices are micro-units per 1 000 tokens, so usage records can carry a cost.
 */
export const Model = defineTenantOwnedEntity({
  name: 'Model',
  tableName: 'models',
  properties: (p) => ({
    name: p.string().length(255),
    type: p.string().length(64),
    config: p.json<Record<string, unknown>>(),
    promptMicrosPer1k: p.integer().default(0),
    completionMicrosPer1k: p.integer().default(0),
    apiKeyCiphertext: p.text().nullable(),
    apiKeyKeyId: p.string().length(16).nullable(),
    apiKeyLast4: p.string().length(4).nullable(),
    // Written by the worker's health checks only (model-health/): on the row, so a query reads
    // its model's health with the model. Null before the first check.
    healthStatus: p.enum(['HEALTHY', 'DEGRADED', 'DOWN']).nullable(),
    healthCheckedAt: p.datetime().nullable(),
    healthLatencyMs: p.integer().nullable(),
    healthError: p.string().length(500).nullable(),
    /** The recent checks' outcomes, oldest first: `o` answered, `x` failed. */
    healthRecent: p.string().length(32).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  uniques: [{ properties: ['tenant', 'name'] }],
});
export type Model = InferEntity<typeof Model>;
