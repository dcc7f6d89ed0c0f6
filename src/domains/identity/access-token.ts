/**
 * Sluice's own access tokens: short-lived HS256 JWTs (jose). Verification pins the algorithm,
 * issuer and audience, so `alg: none`, RS/HS confusion and tokens meant for another service
 * are all refused.
 */
import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Actor } from '../actor.js';
import { UnauthenticatedError } from '../errors.js';
import { isRole, type Role } from '../access/roles.js';
import { scopesForRole } from '../access/permissions.js';

export const TOKEN_ISSUER = 'sluice';
export const TOKEN_AUDIENCE = 'sluice-api';
const ALGORITHM = 'HS256';
/** Tolerated clock difference between machines when checking `exp` / `nbf` / `iat`. */
const CLOCK_TOLERANCE_SECONDS = 5;

export interface AccessTokenClaims {
  userId: string;
  email: string;
  tenantId: string;
  tenantSlug: string;
  role: Role;
  sessionId?: string | null;
}

/**
 * An access token we signed that has expired. jose checks the signature before the claims, so
 * the claims are authentic: the audit trail may name the tenant, user and session they hold.
 */
export class AccessTokenExpiredError extends UnauthenticatedError {
  constructor(readonly holder: { tenantId: string; userId: string; email: string | null; sessionId: string | null } | null) {
    super('Access token expired', { reason: 'expired' });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function holderOf(payload: Record<string, unknown>): AccessTokenExpiredError['holder'] {
  const { sub, tid, email, sid } = payload;
  if (typeof sub !== 'string' || typeof tid !== 'string' || !UUID.test(tid)) return null;
  return { tenantId: tid, userId: sub, email: typeof email === 'string' ? email : null, sessionId: typeof sid === 'string' ? sid : null };
}

export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /**
   * The token, when it expires, and its lifetime (the TTL: what OAuth's `expires_in` says).
   * `notAfter` caps the expiry (and so the lifetime): a token minted from another access token
   * alone must not outlive it (switchTenant).
   */
  async sign(claims: AccessTokenClaims, now = new Date(), notAfter?: Date): Promise<{ token: string; expiresAt: Date; lifetimeSeconds: number }> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    const cap = notAfter ? Math.floor(notAfter.getTime() / 1000) : Infinity;
    const expiresAt = new Date(Math.min(issuedAt + this.ttlSeconds, cap) * 1000);
    const token = await new SignJWT({
      email: claims.email,
      tid: claims.tenantId,
      tslug: claims.tenantSlug,
      role: claims.role,
      ...(claims.sessionId ? { sid: claims.sessionId } : {}),
    })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .setJti(randomUUID())
      .sign(this.key);
    return { token, expiresAt, lifetimeSeconds: expiresAt.getTime() / 1000 - issuedAt };
  }

  /** The user actor a valid token stands for; an UnauthenticatedError for anything else. */
  async verify(token: string): Promise<Extract<Actor, { kind: 'user' }> & { expiresAt: Date }> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AccessTokenExpiredError(holderOf(error.payload));
      throw new UnauthenticatedError('Invalid access token', { reason: 'invalid' });
    }
    const { sub, email, tid, tslug, role, sid, exp } = payload;
    if (
      typeof sub !== 'string' ||
      typeof email !== 'string' ||
      typeof tid !== 'string' ||
      typeof tslug !== 'string' ||
      !isRole(role)
    ) {
      throw new UnauthenticatedError('Invalid access token', { reason: 'claims' });
    }
    return {
      kind: 'user',
      userId: sub,
      email,
      tenantId: tid,
      tenantSlug: tslug,
      role,
      scopes: scopesForRole(role),
      sessionId: typeof sid === 'string' ? sid : null,
      expiresAt: new Date((exp as number) * 1000),
    };
  }
}
