import { Migration } from '@mikro-orm/migrations';

/**
 * An endpoint's `passagesPerDocument` (issue 19): at most this many passages of one document
 * per answer; null, the default, keeps every endpoint as it was. The check repeats the API's.
 */
export class Migration20261203095024_passages_per_document extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "endpoints" add column "passages_per_document" int null;`);
    this.addSql(`alter table "endpoints" add constraint "endpoints_passages_per_document_check" check (passages_per_document >= 1 and passages_per_document <= 50);`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "endpoints" drop column "passages_per_document";`);
  }

}
