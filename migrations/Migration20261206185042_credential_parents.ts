import { Migration } from '@mikro-orm/migrations';

export class Migration20261206185042_credential_parents extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "invitations" add column "created_by_api_key_id" uuid null, add column "created_by_provider_id" uuid null;`);

    this.addSql(`alter table "api_keys" add column "created_by_api_key_id" uuid null, add column "created_by_provider_id" uuid null;`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_created_by_api_key_id_foreign" foreign key ("created_by_api_key_id") references "api_keys" ("id") on update cascade on delete set null;`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_created_by_provider_id_foreign" foreign key ("created_by_provider_id") references "identity_providers" ("id") on update cascade on delete set null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "api_keys" drop constraint "api_keys_created_by_api_key_id_foreign";`);
    this.addSql(`alter table "api_keys" drop constraint "api_keys_created_by_provider_id_foreign";`);

    this.addSql(`alter table "api_keys" drop column "created_by_api_key_id", drop column "created_by_provider_id";`);

    this.addSql(`alter table "invitations" drop column "created_by_api_key_id", drop column "created_by_provider_id";`);
  }

}
