import type { InferEntity } from '@mikro-orm/core';
import { Model } from '../models/model.entity.js';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { Chunk } from './chunk.entity.js';
import { Dataset } from './dataset.entity.js';

/**
 * A chunk's embedding by one model: at most one per (chunk, model), so the embedding stage is
 * exactly once per chunk and a re-embed with another model writes beside the vectors that go
 * on answering queries until it completes. Written in batches with raw SQL, like chunks.
 *
 * `embedding` is a plain `real[]` of unit length (normalised when written, so cosine
 * similarity is a dot product): it needs no extension. Where PostgreSQL has pgvector, HNSW
 * indexes are built on the expression `embedding::vector(dimensions)` per dimension (partial
 * on `dimensions`), so the same rows serve both engines.
 */
export const ChunkEmbedding = defineTenantOwnedEntity({
  name: 'ChunkEmbedding',
  tableName: 'chunk_embeddings',
  properties: (p) => ({
    dataset: () => p.manyToOne(Dataset).deleteRule('cascade'),
    chunk: () => p.manyToOne(Chunk).deleteRule('cascade').index(),
    model: () => p.manyToOne(Model).deleteRule('cascade'),
    dimensions: p.integer(),
    embedding: p.array<number>().columnType('real[]').lazy().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
  uniques: [{ properties: ['tenant', 'chunk', 'model'] }],
  indexes: [{ properties: ['tenant', 'dataset', 'model'] }],
});
export type ChunkEmbedding = InferEntity<typeof ChunkEmbedding>;
