import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written: an input's text is stored once, read twice at most and cleared when it is
 * indexed, so compressing it (pglz, on the API's request path) costs more than it saves.
 * Measured with `npm run bench -- ingestion`: storing 10 MB of uploads took 0.53 s compressed.
 */
export class Migration20261123053617_ingestion_item_storage extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table ingestion_items alter column content set storage external;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table ingestion_items alter column content set storage extended;`);
  }
}
