import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql, ownerLookupSql } from '../src/db/rls.js';

/**
 * Hand-written: a user's own data across tenants, for export and erasure (exportMyData,
 * deleteMyAccount). Both run as the owner for one user id the API has authenticated, and
 * touch nothing of anyone else's. The export lists the user's audit events without their
 * details (operation variables and diffs may hold other people's data).
 */
export class Migration20261124111056_personal_data extends Migration {
  override async up(): Promise<void> {
    const sql = [
      ...ownerLookupSql('usage_records'),
      ...definerFunctionSql(
        'export_user_data(p_user uuid) returns jsonb',
        `language sql stable security definer as $$
           select jsonb_build_object(
             'profile', (select jsonb_build_object('id', u.id, 'email', u.email, 'displayName', u.display_name, 'createdAt', u.created_at) from users u where u.id = p_user),
             'memberships', coalesce((select jsonb_agg(jsonb_build_object('tenant', t.slug, 'tenantName', t.name, 'role', m.role, 'since', m.created_at) order by m.created_at)
                                        from memberships m join tenants t on t.id = m.tenant_id where m.user_id = p_user), '[]'),
             'sessions', coalesce((select jsonb_agg(jsonb_build_object('id', s.id, 'createdAt', s.created_at, 'expiresAt', s.expires_at, 'revokedAt', s.revoked_at) order by s.created_at)
                                     from sessions s where s.user_id = p_user), '[]'),
             'apiKeys', coalesce((select jsonb_agg(jsonb_build_object('tenant', t.slug, 'name', k.name, 'prefix', k.prefix, 'scopes', k.scopes, 'createdAt', k.created_at,
                                                                      'expiresAt', k.expires_at, 'lastUsedAt', k.last_used_at, 'revokedAt', k.revoked_at) order by k.created_at)
                                    from api_keys k join tenants t on t.id = k.tenant_id where k.created_by_id = p_user), '[]'),
             'usage', coalesce((select jsonb_agg(jsonb_build_object('endpoint', r.endpoint_slug, 'at', r.created_at, 'totalTokens', r.total_tokens, 'costMicros', r.cost_micros,
                                                                   'chargedMicros', r.charged_micros, 'outcome', r.outcome) order by r.created_at)
                                  from usage_records r where r.caller_kind = 'user' and r.caller_id = p_user::text), '[]'),
             'auditEvents', coalesce((select jsonb_agg(jsonb_build_object('at', e.created_at, 'action', e.action, 'outcome', e.outcome, 'ip', e.personal->>'ip',
                                                                         'userAgent', e.personal->>'userAgent', 'operationName', e.payload->'details'->>'operationName')
                                                            order by e.created_at)
                                        from audit_events e where e.actor_id = p_user::text), '[]'))
         $$;`,
      ),
      // Refuses (returning their slugs) while the user is the only OWNER of a tenant that has
      // other members: ownership must move first. Otherwise deletes the tenants the user alone
      // belongs to (their data with them), revokes the user's API keys elsewhere, pseudonymises
      // their audit events (outside the hashed payload) and deletes the account; sessions and
      // memberships go with it (foreign keys).
      ...definerFunctionSql(
        'erase_user(p_user uuid, p_pseudonym text) returns text[]',
        `language plpgsql volatile security definer as $$
           declare
             sole text[];
           begin
             select coalesce(array_agg(t.slug order by t.slug), '{}') into sole
               from memberships m join tenants t on t.id = m.tenant_id
              where m.user_id = p_user and m.role = 'OWNER'
                and not exists (select 1 from memberships o where o.tenant_id = m.tenant_id and o.role = 'OWNER' and o.user_id <> p_user)
                and exists (select 1 from memberships o where o.tenant_id = m.tenant_id and o.user_id <> p_user);
             if cardinality(sole) > 0 then
               return sole;
             end if;
             delete from tenants t
              where exists (select 1 from memberships m where m.tenant_id = t.id and m.user_id = p_user)
                and not exists (select 1 from memberships o where o.tenant_id = t.id and o.user_id <> p_user);
             update api_keys set revoked_at = coalesce(revoked_at, now()) where created_by_id = p_user;
             perform pseudonymise_audit_actor(p_user::text, p_pseudonym);
             delete from users where id = p_user;
             return '{}';
           end $$;`,
      ),
    ];
    for (const statement of sql) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists erase_user(uuid, text);');
    this.addSql('drop function if exists export_user_data(uuid);');
    this.addSql('drop policy if exists owner_select_lookup on usage_records;');
  }
}
