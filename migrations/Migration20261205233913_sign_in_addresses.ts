import { Migration } from '@mikro-orm/migrations';
import { appTableGrantSql } from '../src/db/rls.js';

/**
 * Addresses users have signed in from, so the per-email limit across all addresses does not
 * lock them out there (domains/identity/sign-in-addresses.ts; attacker review stop45, F13).
 * Generated, plus the app role's grants (a user's rows, not a tenant's: no row-level security,
 * like `users` and `sessions`).
 */
export class Migration20261205233913_sign_in_addresses extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "sign_in_addresses" ("user_id" uuid not null, "address_digest" varchar(64) not null, "last_signed_in_at" timestamptz not null, constraint "sign_in_addresses_pkey" primary key ("user_id", "address_digest"));`);
    this.addSql(`alter table "sign_in_addresses" add constraint "sign_in_addresses_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
    for (const sql of appTableGrantSql('sign_in_addresses')) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "sign_in_addresses" cascade;`);
  }
}
