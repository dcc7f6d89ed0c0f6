import type { InferEntity } from '@mikro-orm/core';
import { Model } from '../models/model.entity.js';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';

/** How an endpoint finds passages (endpoints/retrieval-mode.ts). */
export const RETRIEVAL_MODES = ['KEYWORD', 'SEMANTIC', 'HYBRID'] as const;

/**
 * What consumers query: a model over one or more datasets, reached as `tenantSlug/slug`.
 * Unpublished, only the tenant's own members may query it; published, authenticated callers
 * of other tenants may too (the policies issue narrows who); listed, it is also shown in the
 * catalog (unlisted ones are reached by address only); published and `allowAnonymous`,
 * callers with no credential may ask too. `datasetIds` are checked to be
 * the tenant's datasets when set; a dataset deleted later simply stops contributing.
 */
export const Endpoint = defineTenantOwnedEntity({
  name: 'Endpoint',
  tableName: 'endpoints',
  properties: (p) => ({
    name: p.string().length(255),
    slug: p.string().length(64),
    description: p.text().nullable(),
    model: () => p.manyToOne(Model).deleteRule('restrict').index(),
    datasetIds: p.array<string>().columnType('uuid[]'),
    published: p.boolean().default(false),
    /** Shown in the catalog any caller may browse (catalog.service.ts); only a published endpoint may be listed. */
    listed: p.boolean().default(false),
    /**
     * Published and this: callers with no credential may ask too, under a per-address limit
     * (SLUICE_ANONYMOUS_QUERIES_PER_MINUTE) and the endpoint's policies.
     */
    allowAnonymous: p.boolean().default(false),
    /**
     * How passages are found: KEYWORD (full-text ranking), SEMANTIC (embedding similarity over
     * the datasets' serving embedding models) or HYBRID (both, fused by reciprocal rank).
     */
    retrievalMode: p.enum([...RETRIEVAL_MODES]).default('KEYWORD'),
    /** Passages retrieved per query. */
    topK: p.integer().default(5),
    /** Passages scoring below this are dropped (BM25 scale); null keeps all topK. */
    minScore: p.double().nullable(),
    /**
     * At most this many passages of one document in an answer (the best ones; the next
     * documents' fill the topK); null: no limit. Field collapsing, as search engines call it.
     */
    passagesPerDocument: p.integer().nullable(),
    /** The worst of its models' health at the last check (model-health/); written by the checks only, null before the first. */
    healthStatus: p.enum(['HEALTHY', 'DEGRADED', 'DOWN']).nullable(),
    healthCheckedAt: p.datetime().nullable(),
    healthLatencyMs: p.integer().nullable(),
    healthError: p.string().length(500).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  uniques: [{ properties: ['tenant', 'slug'] }],
  indexes: [{ properties: ['tenant', 'createdAt', 'id'] }],
  checks: [
    { name: 'endpoints_slug_check', expression: "slug ~ '^[a-z0-9-]{3,64}$'" },
    { name: 'endpoints_top_k_check', expression: 'top_k >= 1 and top_k <= 50' },
    { name: 'endpoints_passages_per_document_check', expression: 'passages_per_document >= 1 and passages_per_document <= 50' },
    { name: 'endpoints_listed_check', expression: 'not listed or published' },
  ],
});
export type Endpoint = InferEntity<typeof Endpoint>;

/** An endpoint's minScore as a number, or null for none (a `double` may come back as its text). */
export const minScoreOf = (endpoint: Pick<Endpoint, 'minScore'>): number | null => (endpoint.minScore == null ? null : Number(endpoint.minScore));
