import { Migration } from '@mikro-orm/migrations';

export class Migration20261202082832_ingestion_item_error_reason extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "ingestion_items" add column "error_reason" varchar(32) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "ingestion_items" drop column "error_reason";`);
  }

}
