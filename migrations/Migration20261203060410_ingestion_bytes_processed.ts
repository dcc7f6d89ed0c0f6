import { Migration } from '@mikro-orm/migrations';

export class Migration20261203060410_ingestion_bytes_processed extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "ingestion_jobs" add column "bytes_processed" bigint not null default 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "ingestion_jobs" drop column "bytes_processed";`);
  }

}
