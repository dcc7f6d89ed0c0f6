/**
 * The credential lookups that happen before a request has a tenant: each calls one SECURITY
 * DEFINER function (see the identity_security migration) on the API's restricted connection,
 * outside any request transaction. Nothing here can list rows; each call needs the hash or id
 * of a credential the caller holds.
 */
import { pgArray } from '../../db/bound-sql.js';
import type { Orm } from '../../db/orm.js';
import type { ApiScope, Role } from '../access/roles.js';
import { KNOWN_ADDRESS_DAYS, KNOWN_ADDRESS_SQL } from './sign-in-addresses.js';

export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  tenantSlug: string;
  scopes: ApiScope[];
  expiresAt: Date | null;
  revokedAt: Date | null;
  /**
   * The keys that minted it, and theirs, up the line (credential-lifetimes.ts): the earliest
   * expiry and the earliest revocation among them. Null: none (or no parent key).
   */
  parentsExpireAt: Date | null;
  parentRevokedAt: Date | null;
  /**
   * The person whose authority the key carries, with their role in the key's tenant now (null:
   * no longer a member). Null for keys no member created (the operator CLI's).
   */
  creator: { userId: string; role: Role | null } | null;
}

export interface IdentityProviderRecord {
  providerId: string;
  tenantId: string;
  tenantSlug: string;
  audience: string;
  jwksUrl: string | null;
  jwks: { keys: Record<string, unknown>[] } | null;
  emailClaim: string;
  roleClaim: string | null;
  roleMapping: Record<string, Role>;
  defaultRole: Role;
  /**
   * Why its tokens are refused, though they verify: `provider-disabled`, or `registrar-left`
   * (the person who answers for it is no longer an OWNER or ADMIN of the tenant). Null: trusted.
   */
  refusal: 'provider-disabled' | 'registrar-left' | null;
}

export interface InvitationRecord {
  invitationId: string;
  tenantId: string;
  tenantSlug: string;
  email: string;
  role: Role;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
}

export class CredentialStore {
  constructor(private readonly orm: Orm) {}

  private query<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.orm.em.getConnection().execute<T[]>(sql, params);
  }

  async apiKey(secretHash: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.query<Record<string, any>>('select * from auth_api_key(?)', [secretHash]);
    return row && {
      keyId: row.key_id,
      tenantId: row.tenant_id,
      tenantSlug: row.tenant_slug,
      scopes: row.scopes,
      expiresAt: row.expires_at ? new Date(row.expires_at) : null,
      revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
      parentsExpireAt: row.parents_expire_at ? new Date(row.parents_expire_at) : null,
      parentRevokedAt: row.parent_revoked_at ? new Date(row.parent_revoked_at) : null,
      creator: row.creator_id ? { userId: row.creator_id, role: row.creator_role ?? null } : null,
    };
  }

  /** The keys (id and tenant) whose shown prefix is `prefix`: whom a wrong secret was meant for. */
  async apiKeysByPrefix(prefix: string): Promise<{ keyId: string; tenantId: string }[]> {
    const rows = await this.query<{ key_id: string; tenant_id: string }>('select * from auth_api_key_prefix(?)', [prefix]);
    return rows.map((row) => ({ keyId: row.key_id, tenantId: row.tenant_id }));
  }

  async identityProviders(issuer: string): Promise<IdentityProviderRecord[]> {
    const rows = await this.query<Record<string, any>>('select * from auth_identity_providers(?)', [issuer]);
    return rows.map((row) => ({
      providerId: row.provider_id,
      tenantId: row.tenant_id,
      tenantSlug: row.tenant_slug,
      audience: row.audience,
      jwksUrl: row.jwks_url,
      jwks: row.jwks,
      emailClaim: row.email_claim,
      roleClaim: row.role_claim,
      roleMapping: row.role_mapping ?? {},
      defaultRole: row.default_role,
      refusal: row.refusal ?? null,
    }));
  }

  async invitation(tokenHash: string): Promise<InvitationRecord | undefined> {
    const [row] = await this.query<Record<string, any>>('select * from auth_invitation(?)', [tokenHash]);
    return row && {
      invitationId: row.invitation_id,
      tenantId: row.tenant_id,
      tenantSlug: row.tenant_slug,
      email: row.email,
      role: row.role,
      expiresAt: new Date(row.expires_at),
      acceptedAt: row.accepted_at ? new Date(row.accepted_at) : null,
      revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
    };
  }

  /** The user's current role if the session is live and active in that tenant, else undefined. */
  async sessionRole(sessionId: string, userId: string, tenantId: string): Promise<Role | undefined> {
    const [row] = await this.query<{ role: Role | null }>('select auth_session_role(?, ?, ?) as role', [sessionId, userId, tenantId]);
    return row?.role ?? undefined;
  }

  async membershipRole(userId: string, tenantId: string): Promise<Role | undefined> {
    const [row] = await this.query<{ role: Role | null }>('select auth_membership_role(?, ?) as role', [userId, tenantId]);
    return row?.role ?? undefined;
  }

  /**
   * Whether `email`'s account signed in from the address with one of these digests lately (sign-in-addresses.ts).
   * Plain tables, no definer function: users and sign-in addresses hold no tenant's rows.
   */
  async signedInFrom(email: string, addressDigests: string[]): Promise<boolean> {
    const [row] = await this.query<{ known: boolean }>(KNOWN_ADDRESS_SQL, [email, pgArray(addressDigests), KNOWN_ADDRESS_DAYS]);
    return row?.known === true;
  }
}
