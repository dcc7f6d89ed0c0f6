import { Migration } from '@mikro-orm/migrations';

/**
 * A dataset's chunks in document order (src/domains/datasets/chunk.entity.ts): the EMBEDDING
 * stage's batches read the next chunks after a (document, ordinal) cursor, which the
 * (tenant, dataset) index could only answer by sorting the whole dataset each batch. The new
 * index serves every (tenant, dataset) lookup the old one did; built before the old one goes.
 */
export class Migration20261203102258_chunks_in_document_order extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "chunks_tenant_id_dataset_id_document_id_ordinal_index" on "chunks" ("tenant_id", "dataset_id", "document_id", "ordinal");`);
    this.addSql(`drop index "chunks_tenant_id_dataset_id_index";`);
  }

  override async down(): Promise<void> {
    this.addSql(`create index "chunks_tenant_id_dataset_id_index" on "chunks" ("tenant_id", "dataset_id");`);
    this.addSql(`drop index "chunks_tenant_id_dataset_id_document_id_ordinal_index";`);
  }

}
