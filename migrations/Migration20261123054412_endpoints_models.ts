import { Migration } from '@mikro-orm/migrations';

export class Migration20261123054412_endpoints_models extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "models" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(255) not null, "type" varchar(64) not null, "config" jsonb not null, "prompt_micros_per1k" int not null default 0, "completion_micros_per1k" int not null default 0, "api_key_ciphertext" text null, "api_key_key_id" varchar(16) null, "api_key_last4" varchar(4) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "models_pkey" primary key ("id"));`);
    this.addSql(`alter table "models" add constraint "models_tenant_id_name_unique" unique ("tenant_id", "name");`);

    this.addSql(`create table "endpoints" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(255) not null, "slug" varchar(64) not null, "description" text null, "model_id" uuid not null, "dataset_ids" uuid[] not null, "published" boolean not null default false, "top_k" int not null default 5, "min_score" double precision null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "endpoints_pkey" primary key ("id"), constraint endpoints_slug_check check (slug ~ '^[a-z0-9-]{3,64}\$'), constraint endpoints_top_k_check check (top_k >= 1 and top_k <= 50));`);
    this.addSql(`create index "endpoints_model_id_index" on "endpoints" ("model_id");`);
    this.addSql(`create index "endpoints_tenant_id_created_at_id_index" on "endpoints" ("tenant_id", "created_at", "id");`);
    this.addSql(`alter table "endpoints" add constraint "endpoints_tenant_id_slug_unique" unique ("tenant_id", "slug");`);

    this.addSql(`create table "usage_records" ("id" uuid not null, "tenant_id" uuid not null, "endpoint_id" uuid null, "endpoint_slug" varchar(64) not null, "caller_tenant_id" uuid not null, "caller_kind" varchar(16) not null, "caller_id" varchar(255) not null, "prompt_tokens" int not null, "completion_tokens" int not null, "total_tokens" int not null, "cost_micros" bigint not null, "latency_ms" int not null, "outcome" varchar(32) not null, "created_at" timestamptz not null, constraint "usage_records_pkey" primary key ("id"));`);
    this.addSql(`create index "usage_records_tenant_id_created_at_index" on "usage_records" ("tenant_id", "created_at");`);
    this.addSql(`create index "usage_records_endpoint_id_created_at_index" on "usage_records" ("endpoint_id", "created_at");`);
    this.addSql(`create index "usage_records_caller_id_created_at_index" on "usage_records" ("caller_id", "created_at");`);

    this.addSql(`alter table "models" add constraint "models_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "endpoints" add constraint "endpoints_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "endpoints" add constraint "endpoints_model_id_foreign" foreign key ("model_id") references "models" ("id") on update cascade on delete restrict;`);

    this.addSql(`alter table "usage_records" add constraint "usage_records_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_endpoint_id_foreign" foreign key ("endpoint_id") references "endpoints" ("id") on update cascade on delete set null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "endpoints" drop constraint "endpoints_model_id_foreign";`);

    this.addSql(`alter table "usage_records" drop constraint "usage_records_endpoint_id_foreign";`);

    this.addSql(`drop table if exists "models" cascade;`);

    this.addSql(`drop table if exists "endpoints" cascade;`);

    this.addSql(`drop table if exists "usage_records" cascade;`);
  }

}
