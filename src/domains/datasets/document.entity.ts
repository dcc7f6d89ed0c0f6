import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { Dataset } from './dataset.entity.js';

/**
 * One ingested document. `sourceKey` names it within its dataset (a file name, a title, a
 * CSV row): ingesting the same key again with the same content hash changes nothing, with a
 * different hash replaces its chunks.
 */
export const Document = defineTenantOwnedEntity({
  name: 'Document',
  tableName: 'documents',
  properties: (p) => ({
    dataset: () => p.manyToOne(Dataset).deleteRule('cascade'),
    sourceKey: p.text(),
    title: p.text(),
    mimeType: p.string().length(100),
    /** SHA-256 of the document's parsed text. */
    contentHash: p.string().length(64),
    byteCount: p.integer(),
    chunkCount: p.integer(),
    metadata: p.json<Record<string, unknown>>().default('{}'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  // (tenant, dataset, id): what a chunk's one foreign key names (chunk.entity.ts).
  uniques: [{ properties: ['tenant', 'dataset', 'sourceKey'] }, { properties: ['tenant', 'dataset', 'id'] }],
  // (dataset, updatedAt): document retention finds a dataset's expired documents without reading the rest.
  indexes: [{ properties: ['tenant', 'dataset', 'contentHash'] }, { properties: ['dataset', 'updatedAt'] }],
});
export type Document = InferEntity<typeof Document>;
