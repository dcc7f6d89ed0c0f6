import { Migration } from '@mikro-orm/migrations';

/**
 * Anonymous consumers (issue 20): an endpoint may admit callers with no credential
 * (`allow_anonymous`, false for every existing endpoint), and the usage records and policy
 * decisions of such callers have no caller tenant (kind `anonymous`, id a keyed digest of the
 * address).
 */
export class Migration20261202181000_anonymous_callers extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "endpoints" add column "allow_anonymous" boolean not null default false;`);
    this.addSql(`alter table "usage_records" alter column "caller_tenant_id" drop not null;`);
    this.addSql(`alter table "policy_decisions" alter column "caller_tenant_id" drop not null;`);
  }

  override async down(): Promise<void> {
    // Rows of anonymous callers cannot satisfy the old constraint: they go first.
    this.addSql(`delete from "policy_decisions" where "caller_tenant_id" is null;`);
    this.addSql(`delete from "usage_records" where "caller_tenant_id" is null;`);
    this.addSql(`alter table "policy_decisions" alter column "caller_tenant_id" set not null;`);
    this.addSql(`alter table "usage_records" alter column "caller_tenant_id" set not null;`);
    this.addSql(`alter table "endpoints" drop column "allow_anonymous";`);
  }

}
