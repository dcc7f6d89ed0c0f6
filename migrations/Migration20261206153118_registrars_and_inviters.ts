import { Migration } from '@mikro-orm/migrations';

export class Migration20261206153118_registrars_and_inviters extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "invitations" add column "invited_by_person" boolean not null default false;`);

    this.addSql(`alter table "identity_providers" add column "registered_by_id" uuid null, add column "registered_by_person" boolean not null default false, add column "disabled_at" timestamptz null, add column "disabled_reason" varchar(32) null;`);
    this.addSql(`alter table "identity_providers" add constraint "identity_providers_registered_by_id_foreign" foreign key ("registered_by_id") references "users" ("id") on update cascade on delete set null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "identity_providers" drop constraint "identity_providers_registered_by_id_foreign";`);

    this.addSql(`alter table "identity_providers" drop column "registered_by_id", drop column "registered_by_person", drop column "disabled_at", drop column "disabled_reason";`);

    this.addSql(`alter table "invitations" drop column "invited_by_person";`);
  }

}
