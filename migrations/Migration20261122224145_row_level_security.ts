import { Migration } from '@mikro-orm/migrations';
import { appTableGrantSql, rlsFoundationSql, tenantTableSql } from '../src/db/rls.js';

/** Hand-written: the restricted app role, its grants, and row-level security. */
export class Migration20261122224145_row_level_security extends Migration {
  override async up(): Promise<void> {
    for (const sql of [
      ...rlsFoundationSql(),
      ...appTableGrantSql('tenants'),
      ...appTableGrantSql('users'),
      ...tenantTableSql('memberships', { readableByOwnUser: true }),
    ]) {
      this.addSql(sql);
    }
  }
}
