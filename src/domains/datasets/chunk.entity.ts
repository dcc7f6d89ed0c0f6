import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { Dataset } from './dataset.entity.js';
import { Document } from './document.entity.js';
import { Tenant } from '../tenancy/tenant.entity.js';

/**
 * A passage of a document, the unit search returns. Rows are written in batches by the
 * ingestion pipeline (raw SQL, one statement per batch); `search` is a generated tsvector with
 * a GIN index, built with the dataset's text-search configuration (`language`).
 *
 * One foreign key, (tenant, dataset, document) to the document's (tenant, dataset, id): a chunk
 * cannot name another tenant or dataset than its document's, and each row written pays one
 * check instead of three (issue 19: the tenant's and dataset's rows were key-share locked for
 * every chunk, by both groups an ingestion job writes at once). Tenants and datasets still
 * reach their chunks by cascade, through their documents.
 */
export const Chunk = defineTenantOwnedEntity({
  name: 'Chunk',
  tableName: 'chunks',
  properties: (p) => ({
    tenant: () => p.manyToOne(Tenant).createForeignKeyConstraint(false),
    dataset: () => p.manyToOne(Dataset).createForeignKeyConstraint(false),
    // Never loaded through the ORM (chunks are read and written in SQL): the relation is here
    // for the schema, whose foreign key shares the tenant and dataset columns.
    document: () =>
      p
        .manyToOne(Document)
        .joinColumns('tenant_id', 'dataset_id', 'document_id')
        .referencedColumnNames('tenant_id', 'dataset_id', 'id')
        .columnTypes('uuid', 'uuid', 'uuid')
        .ownColumns('document_id')
        .deleteRule('cascade')
        .updateRule('cascade')
        .foreignKeyName('chunks_document_foreign'),
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
  // (tenant, dataset, document, ordinal): one chunk per place in its document, and a dataset's
  // chunks in document order: the EMBEDDING stage reads them 64 at a time after a (document,
  // ordinal) cursor; with (tenant, dataset) alone each batch sorted the whole dataset (26 000
  // chunks: PostgreSQL's CPU 69 s where COPY takes 5). Serves (tenant, dataset) lookups and the
  // cascade from documents too. (`document` is those three columns.)
  uniques: [{ properties: ['document', 'ordinal'] }],
  indexes: [
    // Chunks by document alone: the writer's replacement of a document and the statistics trigger.
    { name: 'chunks_document_id_index', expression: 'create index "chunks_document_id_index" on "chunks" ("document_id")' },
    { name: 'chunks_search_index', expression: 'create index chunks_search_index on chunks using gin (search)' },
  ],
});
export type Chunk = InferEntity<typeof Chunk>;
