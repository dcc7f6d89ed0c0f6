import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { Dataset } from '../datasets/dataset.entity.js';
import { Endpoint } from './endpoint.entity.js';

/**
 * One endpoint query, owned by the endpoint's tenant: who asked (the caller's tenant, kind and
 * id, which may be another tenant's for a published endpoint), tokens, cost and latency. The
 * accounting policy and usage statistics read these. Kept when the endpoint is deleted.
 * Ingestion's embedding calls are recorded here too (`kind` embedding, caller `ingestion`:
 * the job), so a tenant's model costs are in one place.
 */
export const UsageRecord = defineTenantOwnedEntity({
  name: 'UsageRecord',
  tableName: 'usage_records',
  properties: (p) => ({
    /** `query`: an endpoint query; `embedding`: a batch of a dataset's chunks embedded by ingestion (no endpoint). */
    kind: p.string().length(16).default('query'),
    /** For `embedding` records: the dataset whose chunks were embedded. */
    dataset: () => p.manyToOne(Dataset).deleteRule('set null').nullable(),
    endpoint: () => p.manyToOne(Endpoint).deleteRule('set null').nullable(),
    endpointSlug: p.string().length(64),
    /** Null for anonymous callers (kind `anonymous`, id a keyed digest of their address). */
    callerTenantId: p.uuid().nullable(),
    callerKind: p.string().length(16),
    callerId: p.string().length(255),
    promptTokens: p.integer(),
    completionTokens: p.integer(),
    totalTokens: p.integer(),
    costMicros: p.bigint('number'),
    /** What the endpoint's accounting policies charged (flat + per token); quotas count this. */
    chargedMicros: p.bigint('number').default(0),
    latencyMs: p.integer(),
    /** `ok`, or the error code the query ended with. */
    outcome: p.string().length(32),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
  indexes: [{ properties: ['tenant', 'createdAt'] }, { properties: ['endpoint', 'createdAt'] }, { properties: ['callerId', 'createdAt'] }, { properties: ['endpoint', 'callerId', 'createdAt'] }],
});
export type UsageRecord = InferEntity<typeof UsageRecord>;
