/**
 * Turns a presented credential into an Actor. One place decides what a credential is worth,
 * for HTTP and WebSocket alike; the auth plugin only finds the credential in the request.
 *
 * - `slk_…` (as a bearer token or `X-API-Key`): an API key of one tenant, with its scopes.
 * - a JWT issued by Sluice: a signed-in user; its session must be live and the membership must
 *   still exist (the role is read fresh, so a demotion applies at once).
 * - a JWT from another issuer: an external identity, if a tenant trusts that issuer.
 *
 * Every refusal is reported to `refusals` (the audit trail, rate-limited: refused-credentials.ts)
 * with the tenant the credential names, when it proves one: a key found by its hash or its
 * shown prefix, or a token signed by us. Unverified claims never pick a tenant's trail.
 */
import { ANONYMOUS, type Actor } from '../actor.js';
import type { AuditRequest } from '../audit/audit-log.js';
import { UnauthenticatedError } from '../errors.js';
import { AccessTokenExpiredError, AccessTokens, TOKEN_ISSUER } from './access-token.js';
import type { CredentialStore } from './credential-store.js';
import { earlier } from './credential-lifetimes.js';
import { ExternalTokenVerifier } from './external-tokens.js';
import { keyScopesFor, roleForScopes, scopesForRole } from '../access/permissions.js';
import { NO_ACTOR, type RefusedCredential, type RefusedCredentials } from './refused-credentials.js';
import { CREDENTIAL_PREFIX, hashToken, looksLike, shownPrefix } from '../../platform/secrets/opaque-tokens.js';

type Refusal = Omit<RefusedCredential, 'action'>;
/** Reports a refusal (to the audit trail) and gives back the error to throw. */
type Refuse = (error: UnauthenticatedError, refusal: Refusal) => UnauthenticatedError;

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
    /** Absent: refusals are not reported (re-checks of live subscriptions: an end, not an attempt). */
    private readonly refusals?: RefusedCredentials,
  ) {}

  /**
   * No credential means anonymous; a credential that is malformed, invalid, expired or revoked
   * is an error, never anonymous. `request` says where it came from, for the audit trail.
   */
  async authenticate(credential: PresentedCredential, request: AuditRequest | null = null, now = new Date()): Promise<Authentication> {
    const refuse: Refuse = (error, refusal) => {
      this.refusals?.refused({ action: 'auth.credential_refused', ...refusal }, request);
      return error;
    };
    const { authorization, apiKey } = credential;
    if (apiKey && authorization) {
      throw refuse(new UnauthenticatedError('Send one credential: Authorization or X-API-Key, not both', { reason: 'ambiguous' }), {
        tenantId: null,
        credential: 'authorization',
        reason: 'ambiguous',
        actor: NO_ACTOR,
        proven: false,
      });
    }
    if (apiKey) return this.apiKey(apiKey, now, refuse);
    if (!authorization) return { actor: ANONYMOUS, expiresAt: null };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) {
      throw refuse(new UnauthenticatedError('Malformed Authorization header: expected "Bearer <token>"', { reason: 'malformed' }), {
        tenantId: null,
        credential: 'authorization',
        reason: 'malformed',
        actor: NO_ACTOR,
        proven: false,
      });
    }
    const token = match[1];
    if (token.startsWith(CREDENTIAL_PREFIX.apiKey)) return this.apiKey(token, now, refuse);
    const issuer = ExternalTokenVerifier.issuerOf(token);
    if (issuer && issuer !== TOKEN_ISSUER) {
      try {
        return await this.external.verify(token, issuer, credential.tenant ?? null);
      } catch (error) {
        // The issuer is whatever the unverified token says: the platform's trail, never a tenant's.
        if (!(error instanceof UnauthenticatedError)) throw error;
        const reason = typeof error.details.reason === 'string' ? error.details.reason : 'invalid';
        throw refuse(error, { tenantId: null, credential: 'externalToken', reason, actor: NO_ACTOR, proven: false, details: { issuer } });
      }
    }
    return this.user(token, refuse);
  }

  private async user(token: string, refuse: Refuse): Promise<Authentication> {
    let verified;
    try {
      verified = await this.tokens.verify(token);
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      // Signed by us but expired: its claims are ours, so it names its tenant, user and session.
      const holder = error instanceof AccessTokenExpiredError ? error.holder : null;
      throw refuse(error, {
        tenantId: holder?.tenantId ?? null,
        credential: 'accessToken',
        reason: typeof error.details.reason === 'string' ? error.details.reason : 'invalid',
        actor: holder ? { kind: 'user', id: holder.userId, email: holder.email } : NO_ACTOR,
        // Expired but signed by us: it was issued to its holder.
        proven: holder !== null,
        details: holder ? { sessionId: holder.sessionId } : {},
      });
    }
    const { expiresAt, ...claims } = verified;
    const role = claims.sessionId
      ? await this.store.sessionRole(claims.sessionId, claims.userId, claims.tenantId)
      : await this.store.membershipRole(claims.userId, claims.tenantId);
    if (!role) {
      const reason = claims.sessionId ? 'session' : 'membership';
      throw refuse(new UnauthenticatedError('Session ended: sign in again', { reason }), {
        tenantId: claims.tenantId,
        credential: 'accessToken',
        reason,
        actor: { kind: 'user', id: claims.userId, email: claims.email },
        proven: true,
        details: { sessionId: claims.sessionId ?? null },
      });
    }
    return { actor: { ...claims, role, scopes: scopesForRole(role) }, expiresAt };
  }

  private async apiKey(key: string, now: Date, refuse: Refuse): Promise<Authentication> {
    const wellFormed = looksLike(key, CREDENTIAL_PREFIX.apiKey);
    const record = wellFormed ? await this.store.apiKey(hashToken(key)) : undefined;
    // Only what every key shows anyway; nothing of a value that is not a key (a pasted password).
    const keyPrefix = key.startsWith(CREDENTIAL_PREFIX.apiKey) && key.length > shownPrefix(key).length ? shownPrefix(key) : null;
    if (!record) {
      const error = new UnauthenticatedError('Invalid API key', { reason: 'invalid' });
      // A secret that is not the key its prefix names: a wrong (or guessed) secret for that key.
      // The prefix is no secret: anyone can send these, so they prove nothing (not `proven`).
      const named = keyPrefix && this.refusals ? await this.store.apiKeysByPrefix(keyPrefix) : [];
      for (const { keyId, tenantId } of named) {
        refuse(error, { tenantId, credential: 'apiKey', reason: wellFormed ? 'wrong-secret' : 'malformed', actor: { kind: 'apiKey', id: keyId, email: null }, proven: false, details: { keyPrefix } });
      }
      if (named.length === 0) refuse(error, { tenantId: null, credential: 'apiKey', reason: wellFormed ? 'unknown' : 'malformed', actor: NO_ACTOR, proven: false, details: { keyPrefix } });
      throw error;
    }
    // Found by the secret's hash: the presenter holds the key itself (a stolen, revoked one, say).
    const known: Refusal = { tenantId: record.tenantId, credential: 'apiKey', reason: '', actor: { kind: 'apiKey', id: record.keyId, email: null }, proven: true, details: { keyPrefix } };
    if (record.revokedAt) throw refuse(new UnauthenticatedError('API key revoked', { reason: 'revoked' }), { ...known, reason: 'revoked' });
    if (record.expiresAt && record.expiresAt <= now) throw refuse(new UnauthenticatedError('API key expired', { reason: 'expired' }), { ...known, reason: 'expired' });
    // A key lives no longer than the keys that minted it (credential-lifetimes.ts), whatever
    // path ended them: expiry, the end of a rotation's grace period, revocation.
    if (record.parentRevokedAt) {
      throw refuse(new UnauthenticatedError('API key revoked: a key that minted it was revoked', { reason: 'parent-revoked' }), { ...known, reason: 'parent-revoked' });
    }
    if (record.parentsExpireAt && record.parentsExpireAt <= now) {
      throw refuse(new UnauthenticatedError('API key expired: a key that minted it expired', { reason: 'parent-expired' }), { ...known, reason: 'parent-expired' });
    }
    // Held to its creator's current role, read fresh like a user's: a demotion narrows the key
    // at once; a removed creator's keys stop (removal also revokes them: members.service.ts).
    if (record.creator && !record.creator.role) {
      throw refuse(new UnauthenticatedError('API key of a former member', { reason: 'creator-left' }), { ...known, reason: 'creator-left' });
    }
    const scopes = keyScopesFor(record.scopes, record.creator?.role ?? undefined);
    if (scopes.length === 0) {
      const error = new UnauthenticatedError("API key's scopes are beyond its creator's current role", { reason: 'creator-role' });
      throw refuse(error, { ...known, reason: 'creator-role' });
    }
    return {
      actor: {
        kind: 'apiKey',
        apiKeyId: record.keyId,
        userId: null,
        email: null,
        tenantId: record.tenantId,
        tenantSlug: record.tenantSlug,
        role: roleForScopes(scopes),
        scopes,
      },
      // When it stops: its own end or its parents', whichever comes first (subscriptions end then).
      expiresAt: earlier(record.expiresAt, record.parentsExpireAt),
    };
  }
}
