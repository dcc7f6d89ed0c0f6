import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * The catalog says which entries admit anonymous callers: `catalog_entries` (created by
 * Migration20261202181500_endpoint_catalog, before endpoints had `allow_anonymous` in that
 * order of migrations) now reads the endpoint's flag instead of a constant false. Same
 * signature, same columns, same rows.
 */
export class Migration20261202194000_catalog_anonymous extends Migration {
  override async up(): Promise<void> {
    for (const statement of catalogEntriesSql('e.allow_anonymous')) this.addSql(statement);
  }

  override async down(): Promise<void> {
    for (const statement of catalogEntriesSql('false')) this.addSql(statement);
  }
}

function catalogEntriesSql(allowAnonymous: string): string[] {
  return definerFunctionSql(
    `catalog_entries(p_search text, p_after_tenant text, p_after_endpoint text, p_limit integer)
       returns table (endpoint_id uuid, tenant_slug text, tenant_name text, endpoint_slug text, name text, description text,
                      model_kind text, retrieval_mode text, allow_anonymous boolean,
                      document_count bigint, chunk_count bigint, last_ingested_at timestamptz, rate_limit_policies jsonb)`,
    `language sql stable security definer as $$
       select e.id, t.slug::text, t.name::text, e.slug::text, e.name::text, e.description, m.type::text, e.retrieval_mode,
              ${allowAnonymous},
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
  );
}
