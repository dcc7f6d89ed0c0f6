import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Hand-written: the tenants a user belongs to, with their role in each, for `viewer.tenants`
 * (the console's tenant switcher). Like export_user_data it runs as the owner for the one user
 * id the API has authenticated, so the request keeps its tenant in RLS and no policy widens;
 * it answers only for the user the transaction's RLS settings name.
 */
export class Migration20261203074000_user_memberships extends Migration {
  override async up(): Promise<void> {
    const sql = definerFunctionSql(
      'user_memberships(p_user uuid) returns table (tenant_id uuid, slug text, name text, role text)',
      `language sql stable security definer as $$
         select t.id, t.slug::text, t.name::text, m.role::text
           from memberships m join tenants t on t.id = m.tenant_id
          where m.user_id = p_user
            -- Only the transaction's own user (app.user_id, set per request as RLS reads it):
            -- the app role cannot list anyone else's tenants through this function.
            and p_user = app_current_user()
          order by t.name, t.slug
       $$;`,
    );
    for (const statement of sql) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists user_memberships(uuid);');
  }
}
