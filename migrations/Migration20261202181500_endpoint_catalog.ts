import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql, ownerLookupSql } from '../src/db/rls.js';

/**
 * Generated (an endpoint's `listed` flag, false for every existing endpoint, and the check
 * that only a published endpoint is listed), plus hand-written: the catalog's one
 * cross-tenant read, `catalog_entries`.
 *
 * `catalog_entries` is SECURITY DEFINER so that any caller (anonymous ones too) can browse
 * listed endpoints of every tenant while RLS stays on every table. It returns listed AND
 * published endpoints only, and only their public columns: the tenant's slug and name, the
 * endpoint's slug, name, description, retrieval mode, its model's type (never the model's
 * name, configuration, URL or key), its datasets' summed counts and last ingestion, and its
 * enabled rate_limit policies' three numbers. Search, cursor and page size are applied
 * inside, so a page costs one statement however many endpoints are listed; the page is
 * capped at 101 rows whatever the caller asks. Slugs compare in the "C" collation so the
 * cursor's row comparison and the order agree byte for byte.
 */
export class Migration20261202181500_endpoint_catalog extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "endpoints" add column "listed" boolean not null default false;`);
    this.addSql(`alter table "endpoints" add constraint endpoints_listed_check check (not listed or published);`);

    const sql = [
      // The function runs as the migrating role, which FORCEd RLS binds too (rls.ts ownerLookupSql).
      ...ownerLookupSql('datasets'),
      ...ownerLookupSql('policies'),
      ...definerFunctionSql(
        `catalog_entries(p_search text, p_after_tenant text, p_after_endpoint text, p_limit integer)
           returns table (endpoint_id uuid, tenant_slug text, tenant_name text, endpoint_slug text, name text, description text,
                          model_kind text, retrieval_mode text, allow_anonymous boolean,
                          document_count bigint, chunk_count bigint, last_ingested_at timestamptz, rate_limit_policies jsonb)`,
        `language sql stable security definer as $$
           select e.id, t.slug::text, t.name::text, e.slug::text, e.name::text, e.description, m.type::text, e.retrieval_mode,
                  -- Anonymous callers are not admitted yet: with endpoints.allow_anonymous this reads e.allow_anonymous.
                  false,
                  coalesce(d.documents, 0)::bigint, coalesce(d.chunks, 0)::bigint, d.last_ingested_at,
                  coalesce(p.rules, '[]'::jsonb)
             from endpoints e
             join tenants t on t.id = e.tenant_id
             join models m on m.id = e.model_id and m.tenant_id = e.tenant_id
             left join lateral (
               select sum(ds.document_count) as documents, sum(ds.chunk_count) as chunks, max(ds.last_ingested_at) as last_ingested_at
                 from datasets ds where ds.tenant_id = e.tenant_id and ds.id = any(e.dataset_ids)) d on true
             left join lateral (
               select jsonb_agg(jsonb_build_object(
                        'requestsPerPeriod', po.configuration -> 'requestsPerPeriod',
                        'periodSeconds', po.configuration -> 'periodSeconds',
                        'scope', po.configuration -> 'scope') order by po.created_at, po.id) as rules
                 from policies po
                where po.tenant_id = e.tenant_id and po.endpoint_id = e.id and po.type = 'rate_limit' and po.enabled) p on true
            where e.listed and e.published
              and (p_after_tenant is null
                   or (t.slug collate "C", e.slug collate "C") > (p_after_tenant collate "C", p_after_endpoint collate "C"))
              and (p_search is null
                   or strpos(lower(e.name), lower(p_search)) > 0
                   or strpos(lower(coalesce(e.description, '')), lower(p_search)) > 0
                   or strpos(lower(t.name), lower(p_search)) > 0
                   or strpos(lower(t.slug || '/' || e.slug), lower(p_search)) > 0)
            order by t.slug collate "C", e.slug collate "C"
            limit least(greatest(coalesce(p_limit, 0), 0), 101)
         $$;`,
      ),
    ];
    for (const statement of sql) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists catalog_entries(text, text, text, integer);');
    this.addSql('drop policy if exists owner_select_lookup on "policies";');
    this.addSql('drop policy if exists owner_select_lookup on "datasets";');
    this.addSql(`alter table "endpoints" drop constraint endpoints_listed_check;`);
    this.addSql(`alter table "endpoints" drop column "listed";`);
  }

}
