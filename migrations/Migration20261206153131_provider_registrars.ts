import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';
import { providersSql } from './Migration20261202085116_issuer_claims.js';

const DROP = 'drop function if exists auth_identity_providers(text);';

/**
 * Hand-written: removing or demoting a member no longer leaves them a way back in through an
 * invitation or an identity provider they made (security review: a removed ADMIN accepted their
 * own pending ADMIN invitation, and kept signing EXTERNAL ADMIN tokens with a provider they had
 * registered).
 *
 * - `auth_identity_providers(issuer)` also returns `refusal`: `provider-disabled` while the
 *   provider is disabled, `registrar-left` when the person who answers for it is no longer an
 *   OWNER or ADMIN of its tenant (removed, demoted, or their account deleted). A refused
 *   provider keeps its claim on the issuer and audience. The return type changes, so the
 *   function is dropped and created again in the migration's transaction.
 * - Backfill: every invitation made so far counts as made by a person, so a pending one whose
 *   inviter is gone (or was never recorded: a key's or an external identity's) is refused and
 *   must be sent again; providers registered so far have no recorded registrar and keep working
 *   (docs/identity.md says how to check them).
 */
export class Migration20261206153131_provider_registrars extends Migration {
  override async up(): Promise<void> {
    this.addSql('update invitations set invited_by_person = true;');
    this.addSql(DROP);
    const statements = definerFunctionSql(
      `auth_identity_providers(p_issuer text) returns table (provider_id uuid, tenant_id uuid, tenant_slug text, audience text, jwks_url text, jwks jsonb, email_claim text, role_claim text, role_mapping jsonb, default_role text, refusal text)`,
      `language sql stable security definer as $$
         select provider_id, tenant_id, tenant_slug, audience, jwks_url, jwks, email_claim, role_claim, role_mapping, default_role, refusal
           from (select distinct on (p.audience)
                        p.id as provider_id, p.tenant_id, t.slug::text as tenant_slug, p.audience::text as audience, p.jwks_url::text as jwks_url,
                        p.jwks, p.email_claim::text as email_claim, p.role_claim::text as role_claim, p.role_mapping, p.default_role, p.created_at,
                        case
                          when p.disabled_at is not null then 'provider-disabled'
                          when p.registered_by_person and not exists (
                            select 1 from memberships m
                             where m.user_id = p.registered_by_id and m.tenant_id = p.tenant_id and m.role in ('OWNER', 'ADMIN')) then 'registrar-left'
                        end as refusal
                   from identity_providers p join tenants t on t.id = p.tenant_id
                  where p.issuer = p_issuer
                  order by p.audience, p.created_at, p.id) claims
          order by created_at $$;`,
    );
    for (const statement of statements) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(DROP);
    for (const statement of providersSql(true)) this.addSql(statement);
  }
}
