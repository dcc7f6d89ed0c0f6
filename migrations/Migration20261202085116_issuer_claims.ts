import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Hand-written: an issuer and audience belong to the first tenant that registered them
 * (docs/identity.md, "Whose issuer is it"). A second tenant registering them broke the first
 * tenant's sign-ins (`ambiguous-tenant`) and, with `X-Sluice-Tenant`, made the first tenant's
 * tokens act in the second.
 *
 * - `identity_provider_claimed(issuer, audience)`: whether another tenant already trusts the
 *   pair. The app role cannot see other tenants' providers (RLS), hence a SECURITY DEFINER
 *   function that answers only yes or no. It takes a transaction-scoped advisory lock on the
 *   pair first, so two registrations racing for it are serialised: the second waits for the
 *   first to commit, then sees its row.
 * - `auth_identity_providers(issuer)` returns, per audience, only the provider that claimed it
 *   first (earliest `created_at`, then id): a duplicate registered before this rule existed is
 *   inert, never trusted.
 */
const claimedSql = definerFunctionSql(
  'identity_provider_claimed(p_issuer text, p_audience text) returns boolean',
  `language plpgsql volatile security definer as $$
   begin
     -- Two 32-bit keys; a collision between pairs only serialises two registrations.
     perform pg_advisory_xact_lock(hashtext('identity_provider_claim:' || p_issuer), hashtext(p_audience));
     return exists (
       select 1 from identity_providers p
        where p.issuer = p_issuer and p.audience = p_audience
          and p.tenant_id is distinct from nullif(current_setting('app.tenant_id', true), '')::uuid);
   end $$;`,
);

export const providersSql = (firstClaimOnly: boolean) =>
  definerFunctionSql(
    `auth_identity_providers(p_issuer text) returns table (provider_id uuid, tenant_id uuid, tenant_slug text, audience text, jwks_url text, jwks jsonb, email_claim text, role_claim text, role_mapping jsonb, default_role text)`,
    firstClaimOnly
      ? `language sql stable security definer as $$
           select provider_id, tenant_id, tenant_slug, audience, jwks_url, jwks, email_claim, role_claim, role_mapping, default_role
             from (select distinct on (p.audience)
                          p.id as provider_id, p.tenant_id, t.slug::text as tenant_slug, p.audience::text as audience, p.jwks_url::text as jwks_url,
                          p.jwks, p.email_claim::text as email_claim, p.role_claim::text as role_claim, p.role_mapping, p.default_role, p.created_at
                     from identity_providers p join tenants t on t.id = p.tenant_id
                    where p.issuer = p_issuer
                    order by p.audience, p.created_at, p.id) claims
            order by created_at $$;`
      : `language sql stable security definer as $$
           select p.id, p.tenant_id, t.slug::text, p.audience::text, p.jwks_url::text, p.jwks, p.email_claim::text,
                  p.role_claim::text, p.role_mapping, p.default_role
             from identity_providers p join tenants t on t.id = p.tenant_id
            where p.issuer = p_issuer
            order by p.created_at $$;`,
  );

export class Migration20261202085116_issuer_claims extends Migration {
  override async up(): Promise<void> {
    for (const statement of [...claimedSql, ...providersSql(true)]) this.addSql(statement);
  }

  override async down(): Promise<void> {
    for (const statement of providersSql(false)) this.addSql(statement);
    this.addSql('drop function identity_provider_claimed(text, text);');
  }
}
