import type { InferEntity } from '@mikro-orm/core';
import { Model } from '../models/model.entity.js';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';

/**
 * A tenant's collection of documents. The counters are kept by the ingestion pipeline in the
 * same transaction that changes the documents, so they are always exact.
 */
export const Dataset = defineTenantOwnedEntity({
  name: 'Dataset',
  tableName: 'datasets',
  properties: (p) => ({
    name: p.string().length(255),
    slug: p.string().length(64),
    description: p.text().nullable(),
    /** The PostgreSQL text-search configuration its chunks are indexed with. */
    language: p.string().length(64).default('english'),
    /**
     * The embeddings model new chunks are embedded with (null: keyword search only). Changing it
     * starts a re-embed job; until that completes, `servingEmbeddingModel` names the model whose
     * vectors answer semantic queries (null: none complete yet).
     */
    embeddingModel: () => p.manyToOne(Model).nullable().deleteRule('set null'),
    servingEmbeddingModel: () => p.manyToOne(Model).nullable().deleteRule('set null'),
    documentCount: p.integer().default(0),
    chunkCount: p.bigint('number').default(0),
    byteCount: p.bigint('number').default(0),
    lastIngestedAt: p.datetime().nullable(),
    /** Hours a document is kept after it was last ingested; null: the tenant's default (`Tenant.documentRetentionHours`). */
    documentRetentionHours: p.integer().nullable(),
    /**
     * BM25's collection statistics, kept by triggers on `chunks` with `dataset_terms` (never by
     * the app): how many chunks are indexed and how many lexemes they hold together (the
     * average chunk length is their quotient), and how many documents those chunks belong to
     * (the N of a word's idf: rarity is counted over documents, migrations/…_bm25_document_idf.ts).
     */
    searchChunkCount: p.bigint('number').default(0).hidden(),
    searchLexemeCount: p.bigint('number').default(0).hidden(),
    searchDocumentCount: p.bigint('number').default(0).hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  uniques: [{ properties: ['tenant', 'slug'] }],
  indexes: [{ properties: ['tenant', 'createdAt', 'id'] }],
  checks: [{ name: 'datasets_slug_check', expression: "slug ~ '^[a-z0-9-]{3,64}$'" }],
});
export type Dataset = InferEntity<typeof Dataset>;
