import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../src/db/bootstrap.js';
import { definerFunctionSql, ownerLookupSql, tenantTableSql } from '../src/db/rls.js';

/**
 * Hand-written: row-level security for models, endpoints and usage records; the owner may
 * read and re-seal every model's key (`sluice rotate-master-key`); usage records are
 * append-only for the app role; and the one cross-tenant step a query needs, finding an
 * endpoint by `tenantSlug/endpointSlug` before knowing whether the caller may use it.
 */
export class Migration20261123054426_endpoints_models_security extends Migration {
  override async up(): Promise<void> {
    const sql = [
      ...tenantTableSql('models'),
      ...ownerLookupSql('models', ['select', 'update']),
      ...tenantTableSql('endpoints'),
      ...tenantTableSql('usage_records'),
      `revoke update, delete on usage_records from ${APP_ROLE};`,
      // Returns the endpoint's id, tenant and whether it is published, and nothing else: the
      // caller decides access from these, then reads the endpoint under its tenant's RLS.
      ...definerFunctionSql(
        `resolve_endpoint(p_tenant_slug text, p_endpoint_slug text) returns table (endpoint_id uuid, tenant_id uuid, published boolean)`,
        `language sql stable security definer as $$
           select e.id, e.tenant_id, e.published
             from tenants t join endpoints e on e.tenant_id = t.id
            where t.slug = p_tenant_slug and e.slug = p_endpoint_slug
         $$;`,
      ),
      ...ownerLookupSql('endpoints'),
    ];
    for (const statement of sql) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists resolve_endpoint(text, text);');
  }
}
