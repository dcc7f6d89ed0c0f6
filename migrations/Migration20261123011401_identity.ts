import { Migration } from '@mikro-orm/migrations';

/** Generated: identity tables (sessions, refresh tokens, API keys, identity providers, invitations). */

export class Migration20261123011401_identity extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "identity_providers" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(100) not null, "issuer" varchar(500) not null, "audience" varchar(500) not null, "jwks_url" varchar(2000) null, "jwks" jsonb null, "email_claim" varchar(100) not null default 'email', "role_claim" varchar(100) null, "role_mapping" jsonb not null default '{}', "default_role" text check ("default_role" in ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')) not null default 'VIEWER', "created_at" timestamptz not null, constraint "identity_providers_pkey" primary key ("id"));`);
    this.addSql(`create index "identity_providers_issuer_index" on "identity_providers" ("issuer");`);
    this.addSql(`alter table "identity_providers" add constraint "identity_providers_tenant_id_issuer_unique" unique ("tenant_id", "issuer");`);

    this.addSql(`create table "sessions" ("id" uuid not null, "user_id" uuid not null, "active_tenant_id" uuid not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, "revoked_reason" varchar(32) null, constraint "sessions_pkey" primary key ("id"));`);
    this.addSql(`create index "sessions_user_id_index" on "sessions" ("user_id");`);

    this.addSql(`create table "refresh_tokens" ("id" uuid not null, "session_id" uuid not null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "used_at" timestamptz null, constraint "refresh_tokens_pkey" primary key ("id"));`);
    this.addSql(`create index "refresh_tokens_session_id_index" on "refresh_tokens" ("session_id");`);
    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_token_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "invitations" ("id" uuid not null, "tenant_id" uuid not null, "email" varchar(320) not null, "role" text check ("role" in ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')) not null, "token_hash" varchar(64) not null, "invited_by_id" uuid null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "accepted_at" timestamptz null, "revoked_at" timestamptz null, constraint "invitations_pkey" primary key ("id"));`);
    this.addSql(`create index "invitations_token_hash_index" on "invitations" ("token_hash");`);
    this.addSql(`alter table "invitations" add constraint "invitations_tenant_id_token_hash_unique" unique ("tenant_id", "token_hash");`);

    this.addSql(`create table "api_keys" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(100) not null, "prefix" varchar(16) not null, "secret_hash" varchar(64) not null, "scopes" text[] not null, "created_by_id" uuid null, "created_at" timestamptz not null, "expires_at" timestamptz null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, "replaced_by_id" uuid null, constraint "api_keys_pkey" primary key ("id"));`);
    this.addSql(`create index "api_keys_secret_hash_index" on "api_keys" ("secret_hash");`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_tenant_id_secret_hash_unique" unique ("tenant_id", "secret_hash");`);

    this.addSql(`alter table "identity_providers" add constraint "identity_providers_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "sessions" add constraint "sessions_active_tenant_id_foreign" foreign key ("active_tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_session_id_foreign" foreign key ("session_id") references "sessions" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "invitations" add constraint "invitations_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "invitations" add constraint "invitations_invited_by_id_foreign" foreign key ("invited_by_id") references "users" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "api_keys" add constraint "api_keys_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_created_by_id_foreign" foreign key ("created_by_id") references "users" ("id") on update cascade on delete set null;`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_replaced_by_id_foreign" foreign key ("replaced_by_id") references "api_keys" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "tenants" add column "api_key_default_ttl_days" int not null default 90;`);

    this.addSql(`alter table "users" add column "password_hash" varchar(255) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_session_id_foreign";`);

    this.addSql(`alter table "api_keys" drop constraint "api_keys_replaced_by_id_foreign";`);

    this.addSql(`drop table if exists "identity_providers" cascade;`);

    this.addSql(`drop table if exists "sessions" cascade;`);

    this.addSql(`drop table if exists "refresh_tokens" cascade;`);

    this.addSql(`drop table if exists "invitations" cascade;`);

    this.addSql(`drop table if exists "api_keys" cascade;`);

    this.addSql(`alter table "tenants" drop column "api_key_default_ttl_days";`);

    this.addSql(`alter table "users" drop column "password_hash";`);
  }

}
