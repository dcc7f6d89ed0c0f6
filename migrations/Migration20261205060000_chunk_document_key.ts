import { Migration } from '@mikro-orm/migrations';

/**
 * A chunk's one foreign key: (tenant, dataset, document) to its document's (tenant, dataset, id)
 * (issue 19: ingestion cost; chunk.entity.ts).
 *
 * Chunks had three: to their tenant, dataset and document. PostgreSQL checks each for every row
 * written, and the tenant's and dataset's checks key-share lock rows that the two groups of an
 * ingestion job lock at once. One composite key checks the document alone (its row already
 * locked by the writing transaction), and it says more: a chunk's tenant and dataset are its
 * document's. Deleting a tenant or dataset reaches the chunks through its documents, as deleting
 * a dataset already did in practice (its documents' cascade ran first).
 *
 * The unique (tenant, document, ordinal) becomes (tenant, dataset, document, ordinal), the same
 * rule now that a chunk's dataset is its document's; it replaces the plain index on those
 * columns (the EMBEDDING stage's cursor), so chunks keep one index fewer.
 */
export class Migration20261205060000_chunk_document_key extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "documents" add constraint "documents_tenant_id_dataset_id_id_unique" unique ("tenant_id", "dataset_id", "id");`);
    this.addSql(`alter table "chunks" add constraint "chunks_tenant_id_dataset_id_document_id_ordinal_unique" unique ("tenant_id", "dataset_id", "document_id", "ordinal");`);
    this.addSql(`drop index "chunks_tenant_id_dataset_id_document_id_ordinal_index";`);
    this.addSql(`alter table "chunks" drop constraint "chunks_tenant_id_document_id_ordinal_unique";`);
    this.addSql(
      `alter table "chunks" add constraint "chunks_document_foreign" foreign key ("tenant_id", "dataset_id", "document_id") references "documents" ("tenant_id", "dataset_id", "id") on update cascade on delete cascade;`,
    );
    this.addSql(`alter table "chunks" drop constraint "chunks_tenant_id_foreign", drop constraint "chunks_dataset_id_foreign", drop constraint "chunks_document_id_foreign";`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "chunks" add constraint "chunks_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunks" add constraint "chunks_dataset_id_foreign" foreign key ("dataset_id") references "datasets" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunks" add constraint "chunks_document_id_foreign" foreign key ("document_id") references "documents" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunks" drop constraint "chunks_document_foreign";`);
    this.addSql(`alter table "chunks" add constraint "chunks_tenant_id_document_id_ordinal_unique" unique ("tenant_id", "document_id", "ordinal");`);
    this.addSql(`create index "chunks_tenant_id_dataset_id_document_id_ordinal_index" on "chunks" ("tenant_id", "dataset_id", "document_id", "ordinal");`);
    this.addSql(`alter table "chunks" drop constraint "chunks_tenant_id_dataset_id_document_id_ordinal_unique";`);
    this.addSql(`alter table "documents" drop constraint "documents_tenant_id_dataset_id_id_unique";`);
  }
}
