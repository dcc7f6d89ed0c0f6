import { Migration } from '@mikro-orm/migrations';

export class Migration20261124112133_tenant_audit_settings extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "tenants" add column "audit_store_emails" boolean not null default true, add column "audit_retention_days" int not null default 90, add column "usage_retention_days" int not null default 400, add column "ip_allow_list" text[] null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "tenants" drop column "audit_store_emails", drop column "audit_retention_days", drop column "usage_retention_days", drop column "ip_allow_list";`);
  }

}
