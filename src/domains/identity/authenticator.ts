/**
 * Turns a presented credential into an Actor. One place decides what a credential is worth,
 * for HTTP and WebSocket alike; the auth plugin only finds the credential in the request.
 *
 * - `slk_…` (as a bearer token or `X-API-Key`): an API key of one tenant, with its scopes.
 * - a JWT issued by Sluice: a signed-in user; its session must be live and the membership must
 *   still exist (the role is read fresh, so a demotion applies at once).
 * - a JWT from another issuer: an external identity, if a tenant trusts that issuer.
 */
import { ANONYMOUS, type Actor } from '../actor.js';
import { UnauthenticatedError } from '../errors.js';
import { AccessTokens, TOKEN_ISSUER } from './access-token.js';
import type { CredentialStore } from './credential-store.js';
import { ExternalTokenVerifier } from './external-tokens.js';
import { roleForScopes, scopesForRole } from './permissions.js';
import { CREDENTIAL_PREFIX, hashToken, looksLike } from './secrets.js';

export interface Authentication {
  actor: Actor;
  /** When the credential stops being valid; null for anonymous callers and keys that never expire. */
  expiresAt: Date | null;
}

export interface PresentedCredential {
  /** The `Authorization` header (or its WebSocket equivalent). */
  authorization?: string | null;
  /** The `X-API-Key` header. */
  apiKey?: string | null;
  /** `X-Sluice-Tenant`: picks among tenants that claimed different audiences of one external token. */
  tenant?: string | null;
}

export class Authenticator {
  constructor(
    private readonly tokens: AccessTokens,
    private readonly store: CredentialStore,
    private readonly external: ExternalTokenVerifier,
  ) {}

  /**
   * No credential means anonymous; a credential that is malformed, invalid, expired or revoked
   * is an error, never anonymous.
   */
  async authenticate(credential: PresentedCredential, now = new Date()): Promise<Authentication> {
    const { authorization, apiKey } = credential;
    if (apiKey && authorization) {
      throw new UnauthenticatedError('Send one credential: Authorization or X-API-Key, not both', { reason: 'ambiguous' });
    }
    if (apiKey) return this.apiKey(apiKey, now);
    if (!authorization) return { actor: ANONYMOUS, expiresAt: null };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) {
      throw new UnauthenticatedError('Malformed Authorization header: expected "Bearer <token>"', { reason: 'malformed' });
    }
    const token = match[1];
    if (token.startsWith(CREDENTIAL_PREFIX.apiKey)) return this.apiKey(token, now);
    const issuer = ExternalTokenVerifier.issuerOf(token);
    if (issuer && issuer !== TOKEN_ISSUER) return this.external.verify(token, issuer, credential.tenant ?? null);
    return this.user(token);
  }

  private async user(token: string): Promise<Authentication> {
    const { expiresAt, ...claims } = await this.tokens.verify(token);
    const role = claims.sessionId
      ? await this.store.sessionRole(claims.sessionId, claims.userId, claims.tenantId)
      : await this.store.membershipRole(claims.userId, claims.tenantId);
    if (!role) {
      throw new UnauthenticatedError('Session ended: sign in again', { reason: claims.sessionId ? 'session' : 'membership' });
    }
    return { actor: { ...claims, role, scopes: scopesForRole(role) }, expiresAt };
  }

  private async apiKey(key: string, now: Date): Promise<Authentication> {
    const record = looksLike(key, CREDENTIAL_PREFIX.apiKey) ? await this.store.apiKey(hashToken(key)) : undefined;
    if (!record) throw new UnauthenticatedError('Invalid API key', { reason: 'invalid' });
    if (record.revokedAt) throw new UnauthenticatedError('API key revoked', { reason: 'revoked' });
    if (record.expiresAt && record.expiresAt <= now) throw new UnauthenticatedError('API key expired', { reason: 'expired' });
    return {
      actor: {
        kind: 'apiKey',
        apiKeyId: record.keyId,
        userId: null,
        email: null,
        tenantId: record.tenantId,
        tenantSlug: record.tenantSlug,
        role: roleForScopes(record.scopes),
        scopes: record.scopes,
      },
      expiresAt: record.expiresAt,
    };
  }
}
