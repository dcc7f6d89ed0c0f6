import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { Dataset } from './dataset.entity.js';
import { Document } from './document.entity.js';

/**
 * A passage of a document, the unit search returns. Rows are written in batches by the
 * ingestion pipeline (raw SQL, one statement per batch); `search` is a generated tsvector with
 * a GIN index, built with the dataset's text-search configuration (`language`).
 */
export const Chunk = defineTenantOwnedEntity({
  name: 'Chunk',
  tableName: 'chunks',
  properties: (p) => ({
    dataset: () => p.manyToOne(Dataset).deleteRule('cascade'),
    document: () => p.manyToOne(Document).deleteRule('cascade').index(),
    ordinal: p.integer(),
    content: p.text(),
    /** Character offsets of the chunk in the document's parsed text. */
    startOffset: p.integer(),
    endOffset: p.integer(),
    language: p.string().columnType('regconfig'),
    search: p
      .string()
      .columnType('tsvector')
      .generated('(to_tsvector(language, content)) stored')
      .lazy()
      .hidden(),
  }),
  uniques: [{ properties: ['tenant', 'document', 'ordinal'] }],
  indexes: [
    // A dataset's chunks in document order: the EMBEDDING stage reads them 64 at a time after a
    // (document, ordinal) cursor; with (tenant, dataset) alone each batch sorted the whole
    // dataset (26 000 chunks: PostgreSQL's CPU 69 s where COPY takes 5). Serves (tenant, dataset) lookups too.
    { properties: ['tenant', 'dataset', 'document', 'ordinal'] },
    { name: 'chunks_search_index', expression: 'create index chunks_search_index on chunks using gin (search)' },
  ],
});
export type Chunk = InferEntity<typeof Chunk>;
