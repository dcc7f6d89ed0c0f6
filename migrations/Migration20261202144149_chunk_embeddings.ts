import { Migration } from '@mikro-orm/migrations';
import { tenantTableSql } from '../src/db/rls.js';

/** Generated, plus row-level security for the new tenant-owned table (last lines of `up`). */

export class Migration20261202144149_chunk_embeddings extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "chunk_embeddings" ("id" uuid not null, "tenant_id" uuid not null, "dataset_id" uuid not null, "chunk_id" uuid not null, "model_id" uuid not null, "dimensions" int not null, "embedding" real[] not null, "created_at" timestamptz not null, constraint "chunk_embeddings_pkey" primary key ("id"));`);
    this.addSql(`create index "chunk_embeddings_chunk_id_index" on "chunk_embeddings" ("chunk_id");`);
    this.addSql(`create index "chunk_embeddings_tenant_id_dataset_id_model_id_index" on "chunk_embeddings" ("tenant_id", "dataset_id", "model_id");`);
    this.addSql(`alter table "chunk_embeddings" add constraint "chunk_embeddings_tenant_id_chunk_id_model_id_unique" unique ("tenant_id", "chunk_id", "model_id");`);

    this.addSql(`alter table "chunk_embeddings" add constraint "chunk_embeddings_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunk_embeddings" add constraint "chunk_embeddings_dataset_id_foreign" foreign key ("dataset_id") references "datasets" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunk_embeddings" add constraint "chunk_embeddings_chunk_id_foreign" foreign key ("chunk_id") references "chunks" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunk_embeddings" add constraint "chunk_embeddings_model_id_foreign" foreign key ("model_id") references "models" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "datasets" add column "embedding_model_id" uuid null, add column "serving_embedding_model_id" uuid null;`);
    this.addSql(`alter table "datasets" add constraint "datasets_embedding_model_id_foreign" foreign key ("embedding_model_id") references "models" ("id") on update cascade on delete set null;`);
    this.addSql(`alter table "datasets" add constraint "datasets_serving_embedding_model_id_foreign" foreign key ("serving_embedding_model_id") references "models" ("id") on update cascade on delete set null;`);

    for (const statement of tenantTableSql('chunk_embeddings')) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "chunk_embeddings" cascade;`);

    this.addSql(`alter table "datasets" drop constraint "datasets_embedding_model_id_foreign";`);
    this.addSql(`alter table "datasets" drop constraint "datasets_serving_embedding_model_id_foreign";`);

    this.addSql(`alter table "datasets" drop column "embedding_model_id", drop column "serving_embedding_model_id";`);
  }

}
