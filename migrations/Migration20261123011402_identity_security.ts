import { Migration } from '@mikro-orm/migrations';
import { appTableGrantSql, definerFunctionSql, ownerLookupSql, tenantTableSql } from '../src/db/rls.js';

/**
 * Hand-written: row-level security for the identity tables, and the credential lookups that
 * must find a row before the caller's tenant is known (an API key, an external issuer, an
 * invitation, a session's live membership). Each lookup takes the hash or id the caller
 * proved it holds and returns only the columns authentication needs.
 */
/** Exported for api_key_creator_role, which restates it with edits (function-edits.ts). */
export const AUTH_API_KEY = {
  signature: `auth_api_key(p_secret_hash text) returns table (key_id uuid, tenant_id uuid, tenant_slug text, scopes text[], expires_at timestamptz, revoked_at timestamptz)`,
  definition: `language plpgsql volatile security definer as $$
         begin
           update api_keys k set last_used_at = now()
            where k.secret_hash = p_secret_hash and k.revoked_at is null
              and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute');
           return query
             select k.id, k.tenant_id, t.slug::text, k.scopes, k.expires_at, k.revoked_at
               from api_keys k join tenants t on t.id = k.tenant_id
              where k.secret_hash = p_secret_hash;
         end $$;`,
};

export class Migration20261123011402_identity_security extends Migration {
  override async up(): Promise<void> {
    const sql = [
      ...appTableGrantSql('sessions'),
      ...appTableGrantSql('refresh_tokens'),
      ...tenantTableSql('api_keys'),
      ...tenantTableSql('identity_providers'),
      ...tenantTableSql('invitations'),
      `alter table api_keys add constraint api_keys_scopes_check check (cardinality(scopes) > 0 and scopes <@ array['read', 'write', 'admin']::text[]);`,
      ...ownerLookupSql('api_keys', ['select', 'update']),
      ...ownerLookupSql('identity_providers'),
      ...ownerLookupSql('invitations'),
      ...ownerLookupSql('memberships'),

      // An API key by the SHA-256 of its secret; notes its use at most once a minute.
      ...definerFunctionSql(AUTH_API_KEY.signature, AUTH_API_KEY.definition),
      // The tenants that trust an issuer, with how to verify and map its tokens.
      ...definerFunctionSql(
        `auth_identity_providers(p_issuer text) returns table (provider_id uuid, tenant_id uuid, tenant_slug text, audience text, jwks_url text, jwks jsonb, email_claim text, role_claim text, role_mapping jsonb, default_role text)`,
        `language sql stable security definer as $$
           select p.id, p.tenant_id, t.slug::text, p.audience::text, p.jwks_url::text, p.jwks, p.email_claim::text,
                  p.role_claim::text, p.role_mapping, p.default_role
             from identity_providers p join tenants t on t.id = p.tenant_id
            where p.issuer = p_issuer
            order by p.created_at $$;`,
      ),
      // An invitation by the SHA-256 of its token.
      ...definerFunctionSql(
        `auth_invitation(p_token_hash text) returns table (invitation_id uuid, tenant_id uuid, tenant_slug text, email text, role text, expires_at timestamptz, accepted_at timestamptz, revoked_at timestamptz)`,
        `language sql stable security definer as $$
           select i.id, i.tenant_id, t.slug::text, i.email::text, i.role, i.expires_at, i.accepted_at, i.revoked_at
             from invitations i join tenants t on t.id = i.tenant_id
            where i.token_hash = p_token_hash $$;`,
      ),
      // The current role of a session's user in the tenant the session is active in; no row
      // when the session ended, expired, moved to another tenant, or the membership is gone.
      ...definerFunctionSql(
        `auth_session_role(p_session_id uuid, p_user_id uuid, p_tenant_id uuid) returns text`,
        `language sql stable security definer as $$
           select m.role
             from sessions s join memberships m on m.user_id = s.user_id and m.tenant_id = s.active_tenant_id
            where s.id = p_session_id and s.user_id = p_user_id and s.active_tenant_id = p_tenant_id
              and s.revoked_at is null and s.expires_at > now() $$;`,
      ),
      // A user's role in a tenant, for access tokens that name no session (operator-minted).
      ...definerFunctionSql(
        `auth_membership_role(p_user_id uuid, p_tenant_id uuid) returns text`,
        `language sql stable security definer as $$
           select m.role from memberships m where m.user_id = p_user_id and m.tenant_id = p_tenant_id $$;`,
      ),
    ];
    for (const statement of sql) this.addSql(statement);
  }
}
