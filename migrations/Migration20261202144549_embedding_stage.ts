import { Migration } from '@mikro-orm/migrations';

export class Migration20261202144549_embedding_stage extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "ingestion_jobs" drop constraint if exists "ingestion_jobs_stage_check";`);

    this.addSql(`alter table "usage_records" add column "kind" varchar(16) not null default 'query', add column "dataset_id" uuid null;`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_dataset_id_foreign" foreign key ("dataset_id") references "datasets" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "ingestion_jobs" add column "kind" text check ("kind" in ('INGEST', 'REEMBED')) not null default 'INGEST', add column "chunks_embedded" int not null default 0, add column "chunks_to_embed" int not null default 0, add column "error_reason" varchar(64) null;`);
    this.addSql(`alter table "ingestion_jobs" add constraint "ingestion_jobs_stage_check" check("stage" in ('QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'EMBEDDING', 'COMPLETED', 'FAILED', 'CANCELLED'));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "ingestion_jobs" drop constraint if exists "ingestion_jobs_stage_check";`);

    this.addSql(`alter table "usage_records" drop constraint "usage_records_dataset_id_foreign";`);

    this.addSql(`alter table "ingestion_jobs" drop column "kind", drop column "chunks_embedded", drop column "chunks_to_embed", drop column "error_reason";`);

    this.addSql(`alter table "ingestion_jobs" add constraint "ingestion_jobs_stage_check" check("stage" in ('QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'COMPLETED', 'FAILED', 'CANCELLED'));`);

    this.addSql(`alter table "usage_records" drop column "kind", drop column "dataset_id";`);
  }

}
