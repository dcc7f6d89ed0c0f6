import { Migration } from '@mikro-orm/migrations';

export class Migration20261207170000_ingestion_unended_jobs_index extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "ingestion_jobs_unended_index" on "ingestion_jobs" ("tenant_id", "dataset_id", "kind") where "stage" not in ('COMPLETED', 'FAILED', 'CANCELLED');`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "ingestion_jobs_unended_index";`);
  }

}
