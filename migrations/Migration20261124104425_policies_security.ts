import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../src/db/bootstrap.js';
import { tenantTableSql } from '../src/db/rls.js';

/**
 * Hand-written: row-level security for policies and policy decisions; decisions are
 * append-only for the app role (the rate limits and the decision log count them).
 */
export class Migration20261124104425_policies_security extends Migration {
  override async up(): Promise<void> {
    const sql = [
      ...tenantTableSql('policies'),
      ...tenantTableSql('policy_decisions'),
      `revoke update, delete on policy_decisions from ${APP_ROLE};`,
    ];
    for (const statement of sql) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop policy if exists tenant_select on policies;`);
  }
}
