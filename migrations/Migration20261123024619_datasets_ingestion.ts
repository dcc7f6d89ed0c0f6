import { Migration } from '@mikro-orm/migrations';

export class Migration20261123024619_datasets_ingestion extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "datasets" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(255) not null, "slug" varchar(64) not null, "description" text null, "language" varchar(64) not null default 'english', "document_count" int not null default 0, "chunk_count" bigint not null default 0, "byte_count" bigint not null default 0, "last_ingested_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "datasets_pkey" primary key ("id"));`);
    this.addSql(`create index "datasets_tenant_id_created_at_id_index" on "datasets" ("tenant_id", "created_at", "id");`);
    this.addSql(`alter table "datasets" add constraint "datasets_tenant_id_slug_unique" unique ("tenant_id", "slug");`);

    this.addSql(`create table "documents" ("id" uuid not null, "tenant_id" uuid not null, "dataset_id" uuid not null, "source_key" text not null, "title" text not null, "mime_type" varchar(100) not null, "content_hash" varchar(64) not null, "byte_count" int not null, "chunk_count" int not null, "metadata" jsonb not null default '{}', "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "documents_pkey" primary key ("id"));`);
    this.addSql(`create index "documents_tenant_id_dataset_id_content_hash_index" on "documents" ("tenant_id", "dataset_id", "content_hash");`);
    this.addSql(`create index "documents_dataset_id_index" on "documents" ("dataset_id");`);
    this.addSql(`alter table "documents" add constraint "documents_tenant_id_dataset_id_source_key_unique" unique ("tenant_id", "dataset_id", "source_key");`);

    this.addSql(`create table "chunks" ("id" uuid not null, "tenant_id" uuid not null, "dataset_id" uuid not null, "document_id" uuid not null, "ordinal" int not null, "content" text not null, "start_offset" int not null, "end_offset" int not null, "language" regconfig not null, "search" tsvector generated always as (to_tsvector(language, content)) stored not null, constraint "chunks_pkey" primary key ("id"));`);
    this.addSql(`create index "chunks_document_id_index" on "chunks" ("document_id");`);
    this.addSql(`create index "chunks_tenant_id_dataset_id_index" on "chunks" ("tenant_id", "dataset_id");`);
    this.addSql(`create index chunks_search_index on chunks using gin (search);`);
    this.addSql(`alter table "chunks" add constraint "chunks_tenant_id_document_id_ordinal_unique" unique ("tenant_id", "document_id", "ordinal");`);

    this.addSql(`create table "ingestion_jobs" ("id" uuid not null, "tenant_id" uuid not null, "dataset_id" uuid not null, "stage" text check ("stage" in ('QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'COMPLETED', 'FAILED', 'CANCELLED')) not null default 'QUEUED', "options" jsonb not null, "documents_total" int not null, "documents_done" int not null default 0, "documents_failed" int not null default 0, "chunks_done" int not null default 0, "bytes_total" bigint not null, "bytes_done" bigint not null default 0, "error" text null, "sequence" bigint not null default 0, "attempts" int not null default 0, "created_by_id" uuid null, "created_at" timestamptz not null, "started_at" timestamptz null, "finished_at" timestamptz null, "updated_at" timestamptz not null, constraint "ingestion_jobs_pkey" primary key ("id"));`);
    this.addSql(`create index "ingestion_jobs_tenant_id_dataset_id_created_at_index" on "ingestion_jobs" ("tenant_id", "dataset_id", "created_at");`);
    this.addSql(`create index "ingestion_jobs_dataset_id_index" on "ingestion_jobs" ("dataset_id");`);

    this.addSql(`create table "ingestion_items" ("id" uuid not null, "tenant_id" uuid not null, "job_id" uuid not null, "ordinal" int not null, "name" text not null, "format" varchar(16) not null, "mime_type" varchar(100) not null, "content" text null, "metadata" jsonb not null default '{}', "byte_count" int not null, "status" text check ("status" in ('PENDING', 'PARSED', 'DONE', 'FAILED', 'CANCELLED')) not null default 'PENDING', "outcome" text check ("outcome" in ('INDEXED', 'REPLACED', 'UNCHANGED')) null, "document_count" int not null default 0, "chunk_count" int not null default 0, "error" text null, "sequence" bigint null, "finished_at" timestamptz null, constraint "ingestion_items_pkey" primary key ("id"));`);
    this.addSql(`create index "ingestion_items_job_id_sequence_index" on "ingestion_items" ("job_id", "sequence");`);
    this.addSql(`alter table "ingestion_items" add constraint "ingestion_items_tenant_id_job_id_ordinal_unique" unique ("tenant_id", "job_id", "ordinal");`);

    this.addSql(`create table "worker_instances" ("id" varchar(64) not null, "worker_ids" text[] not null, "started_at" timestamptz not null, "heartbeat_at" timestamptz not null, constraint "worker_instances_pkey" primary key ("id"));`);

    this.addSql(`alter table "datasets" add constraint "datasets_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "documents" add constraint "documents_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "documents" add constraint "documents_dataset_id_foreign" foreign key ("dataset_id") references "datasets" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "chunks" add constraint "chunks_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunks" add constraint "chunks_dataset_id_foreign" foreign key ("dataset_id") references "datasets" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "chunks" add constraint "chunks_document_id_foreign" foreign key ("document_id") references "documents" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "ingestion_jobs" add constraint "ingestion_jobs_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "ingestion_jobs" add constraint "ingestion_jobs_dataset_id_foreign" foreign key ("dataset_id") references "datasets" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "ingestion_jobs" add constraint "ingestion_jobs_created_by_id_foreign" foreign key ("created_by_id") references "users" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "ingestion_items" add constraint "ingestion_items_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "ingestion_items" add constraint "ingestion_items_job_id_foreign" foreign key ("job_id") references "ingestion_jobs" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "documents" drop constraint "documents_dataset_id_foreign";`);

    this.addSql(`alter table "chunks" drop constraint "chunks_dataset_id_foreign";`);

    this.addSql(`alter table "ingestion_jobs" drop constraint "ingestion_jobs_dataset_id_foreign";`);

    this.addSql(`alter table "chunks" drop constraint "chunks_document_id_foreign";`);

    this.addSql(`alter table "ingestion_items" drop constraint "ingestion_items_job_id_foreign";`);

    this.addSql(`drop table if exists "datasets" cascade;`);

    this.addSql(`drop table if exists "documents" cascade;`);

    this.addSql(`drop table if exists "chunks" cascade;`);

    this.addSql(`drop table if exists "ingestion_jobs" cascade;`);

    this.addSql(`drop table if exists "ingestion_items" cascade;`);

    this.addSql(`drop table if exists "worker_instances" cascade;`);
  }

}
