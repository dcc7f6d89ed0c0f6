import { Migration } from '@mikro-orm/migrations';

export class Migration20261124104416_policies_tenant_limits extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "policy_decisions" ("id" uuid not null, "tenant_id" uuid not null, "endpoint_id" uuid not null, "endpoint_slug" varchar(64) not null, "decision" varchar(8) not null, "policy_id" uuid null, "policy_type" varchar(32) null, "rule" varchar(255) null, "reason_code" varchar(32) null, "reason" text null, "verdicts" jsonb not null, "caller_tenant_id" uuid not null, "caller_kind" varchar(16) not null, "caller_id" varchar(255) not null, "operation_hash" varchar(64) null, "cost_micros" bigint not null default 0, "retry_after_seconds" int null, "created_at" timestamptz not null, constraint "policy_decisions_pkey" primary key ("id"));`);
    this.addSql(`create index "policy_decisions_tenant_id_created_at_id_index" on "policy_decisions" ("tenant_id", "created_at", "id");`);
    this.addSql(`create index "policy_decisions_endpoint_id_created_at_index" on "policy_decisions" ("endpoint_id", "created_at");`);
    this.addSql(`create index "policy_decisions_endpoint_id_caller_id_created_at_index" on "policy_decisions" ("endpoint_id", "caller_id", "created_at");`);

    this.addSql(`create table "policies" ("id" uuid not null, "tenant_id" uuid not null, "endpoint_id" uuid not null, "type" varchar(32) not null, "configuration" jsonb not null, "enabled" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "policies_pkey" primary key ("id"));`);
    this.addSql(`create index "policies_tenant_id_endpoint_id_created_at_index" on "policies" ("tenant_id", "endpoint_id", "created_at");`);

    this.addSql(`alter table "policy_decisions" add constraint "policy_decisions_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "policies" add constraint "policies_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "policies" add constraint "policies_endpoint_id_foreign" foreign key ("endpoint_id") references "endpoints" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "tenants" add column "rate_limit_per_second" int null, add column "rate_limit_burst" int null;`);

    this.addSql(`alter table "usage_records" add column "charged_micros" bigint not null default 0;`);
    this.addSql(`create index "usage_records_endpoint_id_caller_id_created_at_index" on "usage_records" ("endpoint_id", "caller_id", "created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "policy_decisions" cascade;`);

    this.addSql(`drop table if exists "policies" cascade;`);

    this.addSql(`alter table "tenants" drop column "rate_limit_per_second", drop column "rate_limit_burst";`);

    this.addSql(`drop index "usage_records_endpoint_id_caller_id_created_at_index";`);
    this.addSql(`alter table "usage_records" drop column "charged_micros";`);
  }

}
