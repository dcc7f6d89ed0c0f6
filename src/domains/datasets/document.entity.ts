import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { tenantFilter } from '../../db/tenant-session.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { Dataset } from './dataset.entity.js';

/**
 * One ingested document. `sourceKey` names it within its dataset (a file name, a title, a
 * CSV row): ingesting the same key again with the same content hash changes nothing, with a
 * different hash replaces its chunks.
 */
export const Document = defineEntity({
  name: 'Document',
  tableName: 'documents',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    tenant: () => p.manyToOne(Tenant).deleteRule('cascade'),
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
  uniques: [{ properties: ['tenant', 'dataset', 'sourceKey'] }],
  indexes: [{ properties: ['tenant', 'dataset', 'contentHash'] }, { properties: ['dataset'] }],
  filters: { tenant: tenantFilter() },
});
export type Document = InferEntity<typeof Document>;
