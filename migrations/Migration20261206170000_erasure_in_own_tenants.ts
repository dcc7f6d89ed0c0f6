import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Erasing an account removes its address from the personal values of events only on the chains
 * of the tenants it belonged to (and the platform's), no longer of every tenant. Sluice verifies
 * no address: a stranger who signed up as an address another tenant had invited, then deleted
 * that account, erased the other tenant's record of the invitation (an attacker review). The
 * events the account's own actions wrote are pseudonymised by its id, wherever they are, as before.
 */
export const eraseUser = (scoped: boolean) =>
  definerFunctionSql(
    'erase_user(p_user uuid, p_pseudonym text) returns text[]',
    `language plpgsql volatile security definer as $$
       declare
         sole text[];
         email text;
         own uuid[];
       begin
         select coalesce(array_agg(t.slug order by t.slug), '{}') into sole
           from memberships m join tenants t on t.id = m.tenant_id
          where m.user_id = p_user and m.role = 'OWNER'
            and not exists (select 1 from memberships o where o.tenant_id = m.tenant_id and o.role = 'OWNER' and o.user_id <> p_user)
            and exists (select 1 from memberships o where o.tenant_id = m.tenant_id and o.user_id <> p_user);
         if cardinality(sole) > 0 then
           return sole;
         end if;
         select u.email into email from users u where u.id = p_user;
         -- The chains whose records of the address are the account's own to erase.
         select array_agg(m.tenant_id) || '00000000-0000-0000-0000-000000000000'::uuid into own from memberships m where m.user_id = p_user;
         delete from tenants t
          where exists (select 1 from memberships m where m.tenant_id = t.id and m.user_id = p_user)
            and not exists (select 1 from memberships o where o.tenant_id = t.id and o.user_id <> p_user);
         update api_keys set revoked_at = coalesce(revoked_at, now()) where created_by_id = p_user;
         perform pseudonymise_audit_actor(p_user::text, p_pseudonym);
         ${scoped ? 'perform erase_audit_personal_value(email, own);' : 'perform erase_audit_personal_value(email);'}
         delete from users where id = p_user;
         return '{}';
       end $$;`,
  );

export class Migration20261206170000_erasure_in_own_tenants extends Migration {
  override async up(): Promise<void> {
    // As erase_audit_personal_value(text), on the chains of `p_tenants` only.
    this.addSql(`create or replace function erase_audit_personal_value(p_value text, p_tenants uuid[]) returns bigint
       language sql volatile security definer set search_path = public, pg_temp as $$
         with changed as (
           update audit_events e
              set personal = e.personal || jsonb_build_object(
                    'values', (select jsonb_agg(case when lower(v #>> '{}') = lower(p_value) then 'null'::jsonb else v end order by n)
                                 from jsonb_array_elements(e.personal->'values') with ordinality as t(v, n)),
                    'valuesErased', true)
            where e.tenant_id = any(p_tenants)
              and jsonb_typeof(e.personal->'values') = 'array'
              and exists (select 1 from jsonb_array_elements_text(e.personal->'values') x where lower(x) = lower(p_value))
           returning 1)
         select count(*) from changed
       $$;`);
    this.addSql('revoke all on function erase_audit_personal_value(text, uuid[]) from public;');
    for (const statement of eraseUser(true)) this.addSql(statement);
  }

  override async down(): Promise<void> {
    for (const statement of eraseUser(false)) this.addSql(statement);
    this.addSql('drop function if exists erase_audit_personal_value(text, uuid[]);');
  }
}
