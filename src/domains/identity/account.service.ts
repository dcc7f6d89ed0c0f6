/**
 * Accounts and sessions: sign-up, log-in, refresh, log-out, switching tenant.
 *
 * A session is a family of single-use refresh tokens. Refreshing uses one up and issues the
 * next; presenting a used one again means a copy exists somewhere else, so the whole family
 * is revoked (token theft detection). Access tokens name their session, and the authenticator
 * refuses them once the session has ended.
 */
import { randomBytes } from 'node:crypto';
import { auditRequestOf } from '../audit/record.js';
import { ConflictError, ForbiddenError, UnauthenticatedError } from '../errors.js';
import { displayName } from '../display-text.js';
import { normalizeEmail } from '../fields.js';
import type { ServiceContext } from '../service-context.js';
import { flushOrConflict } from '../unique-names.js';
import { Membership } from '../tenancy/membership.entity.js';
import { heldMembership } from '../tenancy/held-membership.js';
import type { Role } from '../access/roles.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { User } from '../tenancy/user.entity.js';
import { assertAcceptablePassword, hashPassword, verifyPassword } from './passwords.js';
import { NO_ACTOR } from './refused-credentials.js';
import { CREDENTIAL_PREFIX, hashToken, looksLike, newOpaqueToken } from '../../platform/secrets/opaque-tokens.js';
import type { AccessTokenClaims } from './access-token.js';
import { RefreshToken, Session } from './session.entity.js';
import { lockedSession, sessionChanged, usedBy } from './session-lock.js';
import { rememberSignInAddress } from './sign-in-addresses.js';

/** A session lives this long from log-in, however often it is refreshed. */
export const SESSION_MAX_AGE_MS = 30 * 24 * 3600_000;

/** switchTenant's answer: an access token in the new tenant; the session's refresh token stays the client's. */
export type TenantSwitch = Omit<AuthPayload, 'refreshToken' | 'expiresInSeconds'>;

export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  expiresAt: Date;
  /** The access token's lifetime in seconds (REST login's `expires_in`). */
  expiresInSeconds: number;
  user: User;
  tenant: Tenant;
  role: Role;
}

/** `Acme Corp!` → `acme-corp`: lower-case ASCII letters, digits and single dashes. */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  return slug || 'tenant';
}

export class AccountService {
  constructor(private readonly ctx: ServiceContext) {}

  async signUp(input: { email: string; password: string; tenantName: string }): Promise<AuthPayload> {
    const { em } = this.ctx;
    const email = normalizeEmail(input.email);
    assertAcceptablePassword(input.password);
    const tenantName = displayName(input.tenantName, 'tenantName');
    if (await em.count(User, { email })) throw new ConflictError('An account with this email already exists', { field: 'email' });
    // Counted only now that it would make a tenant (a mistyped form costs nothing): tenants are
    // free and each is a share of the answer places, so one address makes only a few.
    const refused = await this.ctx.deps.signUps?.tenantSignUp(this.ctx.request?.ip ?? 'unknown');
    if (refused) throw refused;

    const user = em.create(User, { email, passwordHash: await hashPassword(input.password) });
    const tenant = em.create(Tenant, { name: tenantName, slug: await this.freeSlug(slugify(tenantName)) });
    await flushOrConflict(em, () => new ConflictError('An account with this email already exists'));
    await this.ctx.scope.enterTenant(tenant.id, user.id);
    em.create(Membership, { tenant, user, role: 'OWNER' });
    await em.flush();
    await this.rememberAddress(user);
    return this.openSession(user, tenant, 'OWNER');
  }

  /** Unknown email and wrong password get the same answer, after the same amount of hashing. */
  async logIn(input: { email: string; password: string; tenant?: string | null }): Promise<AuthPayload> {
    const user = await this.verifiedAccount(input.email, input.password, { tenant: input.tenant ?? null });
    const membership = await this.membershipOf(user.id, input.tenant ?? null);
    this.recordSignIn(membership.tenant.id, 'ok', user.id, user.email, { tenant: input.tenant ?? null });
    await this.rememberAddress(user);
    return this.openSession(user, membership.tenant, membership.role);
  }

  /**
   * The account of `email` if `password` is its password. Otherwise logIn's one answer for an
   * unknown email and a wrong password alike (after the same hashing), recorded as a failed
   * sign-in on the platform's chain. Every caller is a sign-in attempt in the attempt limits
   * (plugins/attempt-limits.ts): logIn, and acceptInvitation with an existing account's password.
   */
  async verifiedAccount(rawEmail: string, password: string, details: Record<string, unknown>): Promise<User> {
    const email = rawEmail.trim().toLowerCase();
    const user = await this.ctx.em.findOne(User, { email });
    if (!(await verifyPassword(user?.passwordHash, password)) || !user) {
      // Unknown account or wrong password: on the platform's chain (no tenant is known).
      this.recordSignIn(null, 'UNAUTHENTICATED', user?.id ?? null, email, details);
      throw new UnauthenticatedError('Invalid email or password', { reason: 'credentials' });
    }
    return user;
  }

  /** A refused one goes through the refusal log's flood limit: one address guessing must not fill the trail. */
  private recordSignIn(tenantId: string | null, outcome: string, userId: string | null, email: string, details: Record<string, unknown>): void {
    const record = { tenantId, action: 'auth.login', outcome, actor: { kind: 'user' as const, id: userId, email }, request: auditRequestOf(this.ctx.request), details };
    const { refusals, audit } = this.ctx.deps;
    if (outcome !== 'ok' && refusals) refusals.refusedSignIn(record);
    else audit?.record(record);
  }

  async refreshSession(refreshToken: string): Promise<AuthPayload> {
    const { em } = this.ctx;
    const invalid = new UnauthenticatedError('Invalid or expired refresh token', { reason: 'refresh' });
    if (!looksLike(refreshToken, CREDENTIAL_PREFIX.refreshToken)) throw this.refused(invalid, null, 'malformed');
    const stored = await em.findOne(RefreshToken, { tokenHash: hashToken(refreshToken) });
    if (!stored) throw this.refused(invalid, null, 'unknown');
    const unusedWhenFound = !stored.usedAt;
    // From here on the session is read with its row held (session-lock.ts).
    const session = await lockedSession(em, stored.session.id, ['user', 'activeTenant']);
    if (!session) throw this.refused(invalid, null, 'unknown');
    const now = new Date();
    if (stored.usedAt || !(await this.useUp(stored, now))) {
      // Used up, while this request waited for the session, by an acceptInvitation's rotation.
      if (unusedWhenFound && (await usedBy(em, stored.id)) === 'move') throw sessionChanged();
      // Used twice (or a concurrent refresh with it won): someone else holds a copy. End the
      // family; the revocation is committed even though this operation fails (keepingWrites).
      if (!session.revokedAt) Object.assign(session, { revokedAt: now, revokedReason: 'reuse' });
      await em.flush();
      const reused = new UnauthenticatedError('Refresh token reused: the session has been ended', { reason: 'reuse' }).keepingWrites();
      // Every tenant the user belongs to: a copy of the session can be switched into any of them.
      if (this.ctx.deps.refusals) {
        for (const tenantId of await this.tenantIdsOf(session.user, session.activeTenant.id)) this.refused(reused, session, 'reuse', tenantId);
      }
      throw reused;
    }
    if (session.revokedAt || session.expiresAt <= now || stored.expiresAt <= now) {
      throw this.refused(invalid, session, session.revokedAt ? 'ended' : 'expired');
    }
    await this.ctx.scope.enterTenant(session.activeTenant.id, session.user.id);
    const membership = await em.findOne(Membership, { user: session.user, tenant: session.activeTenant });
    if (!membership) {
      Object.assign(session, { revokedAt: now, revokedReason: 'membership' });
      await em.flush();
      throw this.refused(invalid, session, 'membership');
    }
    return this.issue(session, session.user, session.activeTenant, membership.role);
  }

  /**
   * Marks the token used, if no one else has: a compare-and-set in one UPDATE, so of any number
   * of concurrent refreshes with one token exactly one gets the row (the others wait on its
   * row lock, then find `used_at` set and update nothing). Checking `usedAt` in JavaScript
   * let all of them through (issue 17, item 8).
   */
  private async useUp(token: RefreshToken, now: Date): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      "update refresh_tokens set used_at = ?, used_by = 'refresh' where id = ? and used_at is null returning id",
      [now, token.id],
    );
    return rows.length === 1;
  }

  /**
   * Reports a refused refresh token to the audit trail: the session's tenant (or `tenantId`)
   * when the token is one of ours, else the platform's. Never the token itself.
   */
  private refused(error: UnauthenticatedError, session: Session | null, reason: string, tenantId = session?.activeTenant.id ?? null): UnauthenticatedError {
    this.ctx.deps.refusals?.refused(
      {
        action: reason === 'reuse' ? 'auth.refresh_reuse' : 'auth.credential_refused',
        tenantId,
        credential: 'refreshToken',
        reason,
        actor: session ? { kind: 'user', id: session.user.id, email: session.user.email } : NO_ACTOR,
        // Found by the token's hash: its presenter holds one of the session's refresh tokens.
        proven: session !== null,
        details: session ? { sessionId: session.id } : {},
      },
      auditRequestOf(this.ctx.request),
    );
    return error;
  }

  /** The tenants `user` is a member of (read as the user, under RLS); `fallback` if none. */
  private async tenantIdsOf(user: User, fallback: string): Promise<string[]> {
    await this.ctx.scope.enterAsUser(user.id);
    const memberships = await this.ctx.em.find(Membership, { user }, { filters: false, orderBy: { createdAt: 'asc', id: 'asc' } });
    const ids = memberships.map((membership) => membership.tenant.id);
    return ids.length > 0 ? ids : [fallback];
  }

  /** Ends the caller's session: its refresh tokens stop working, and so do its access tokens. */
  async logOut(): Promise<boolean> {
    const session = await this.currentSession();
    if (!session.revokedAt) Object.assign(session, { revokedAt: new Date(), revokedReason: 'logout' });
    await this.ctx.em.flush();
    return true;
  }

  /**
   * Moves the caller's session to another of their tenants, with an access token there and no
   * refresh token: the session keeps its one refresh chain, whose next refresh yields tokens for
   * the new tenant. The token expires when the one presented (`presentedExpiresAt`) does, so an
   * access token alone never extends a session. Issuing a refresh token here let a 15-minute
   * access token mint a 30-day chain, and forked the family into two live chains that reuse
   * detection never saw. Switching to the current tenant changes nothing (same expiry).
   */
  async switchTenant(tenant: string, presentedExpiresAt: Date | null): Promise<TenantSwitch> {
    // The membership before the session: a removal holds them in that order (held-membership.ts).
    const membership = await this.membershipOf(this.sessionOf().userId, tenant);
    const session = await this.currentSession();
    // Ended (logOut) while this request waited for the session's row.
    if (session.revokedAt) throw new UnauthenticatedError('Session ended: sign in again', { reason: 'session' });
    session.activeTenant = membership.tenant;
    await this.ctx.em.flush();
    const notAfter = presentedExpiresAt && presentedExpiresAt < session.expiresAt ? presentedExpiresAt : session.expiresAt;
    const { token, expiresAt } = await this.ctx.deps.tokens.sign(this.claims(session, session.user, membership.tenant, membership.role), new Date(), notAfter);
    return { accessToken: token, expiresAt, user: session.user, tenant: membership.tenant, role: membership.role };
  }

  /**
   * `user`'s session in `tenantId`, after they accepted an invitation there. A signed-in caller's
   * own session moves there, as switchTenant moves it: opening a second one left the first alive
   * with a refresh token the client had swapped away, which signing out never ended. The answer
   * carries a refresh token, so the session's chain is rotated, not forked: its unused refresh
   * tokens are used up and the successor is the only live one, still ending with the session
   * (presenting an older one again is reuse, as after a refresh). A signed-out acceptance is a
   * sign-in and opens a new session.
   */
  async sessionFor(user: User, tenantId: string): Promise<AuthPayload> {
    const membership = await this.membershipOf(user.id, tenantId);
    const { actor, em } = this.ctx;
    if (actor.kind !== 'user' || !actor.sessionId) return this.openSession(user, membership.tenant, membership.role);
    const session = await this.currentSession();
    if (session.revokedAt || session.user.id !== user.id) throw new UnauthenticatedError('Session ended: sign in again', { reason: 'session' });
    session.activeTenant = membership.tenant;
    await em.flush();
    // Marked `move`: a refresh that waited for the session and finds its token spent so lost a race (session-lock.ts).
    await em.execute("update refresh_tokens set used_at = ?, used_by = 'move' where session_id = ? and used_at is null", [new Date(), session.id]);
    return this.issue(session, user, membership.tenant, membership.role);
  }

  /** The caller's session, its row held (session-lock.ts): each caller of this changes it. */
  private async currentSession(): Promise<Session> {
    const session = await lockedSession(this.ctx.em, this.sessionOf().sessionId);
    if (!session) throw new UnauthenticatedError('Session ended: sign in again', { reason: 'session' });
    return session;
  }

  /** Who is signed in, and with which session: refused for any other caller. */
  private sessionOf(): { userId: string; sessionId: string } {
    const { actor } = this.ctx;
    if (actor.kind !== 'user' || !actor.sessionId) {
      throw new ForbiddenError('Only a signed-in user session can do this', { reason: 'session-required' });
    }
    return { userId: actor.userId, sessionId: actor.sessionId };
  }

  /**
   * The user's membership in `tenant` (id or slug), or their oldest; chosen among their own
   * (read as the user, RLS), then entered and held for share (tenancy/held-membership.ts): the
   * session this opens or moves there must not outlive a removal running meanwhile.
   */
  private async membershipOf(userId: string, tenant: string | null): Promise<Membership> {
    const { em } = this.ctx;
    await this.ctx.scope.enterAsUser(userId);
    const memberships = await em.find(
      Membership,
      { user: userId },
      { populate: ['tenant'], orderBy: { createdAt: 'asc', id: 'asc' }, filters: false },
    );
    const wanted = tenant?.trim().toLowerCase();
    // With no tenant named, the oldest one still held: one removed while this waited is passed over.
    for (const chosen of wanted ? memberships.filter((m) => m.tenant.id === wanted || m.tenant.slug === wanted) : memberships) {
      await this.ctx.scope.enterTenant(chosen.tenant.id, userId);
      // Null when gone while this waited: a removal committed first.
      const membership = await heldMembership(em, userId, chosen.tenant.id);
      if (membership) return membership;
    }
    throw new ForbiddenError(wanted ? 'You are not a member of that tenant' : 'You are not a member of any tenant', { reason: 'no-membership' });
  }

  /** The address this password sign-in came from, so the limit across addresses spares it (sign-in-addresses.ts). */
  private async rememberAddress(user: User): Promise<void> {
    const ip = this.ctx.request?.ip;
    if (ip) await rememberSignInAddress(this.ctx.em, this.ctx.deps.secrets, user.id, ip);
  }

  private async openSession(user: User, tenant: Tenant, role: Role): Promise<AuthPayload> {
    const session = this.ctx.em.create(Session, {
      user,
      activeTenant: tenant,
      expiresAt: new Date(Date.now() + SESSION_MAX_AGE_MS),
    });
    return this.issue(session, user, tenant, role);
  }

  private async issue(session: Session, user: User, tenant: Tenant, role: Role): Promise<AuthPayload> {
    const { em, deps } = this.ctx;
    const refreshToken = newOpaqueToken(CREDENTIAL_PREFIX.refreshToken);
    em.create(RefreshToken, { session, tokenHash: hashToken(refreshToken), expiresAt: session.expiresAt });
    await em.flush();
    const { token, expiresAt, lifetimeSeconds } = await deps.tokens.sign(this.claims(session, user, tenant, role));
    return { accessToken: token, refreshToken, expiresAt, expiresInSeconds: lifetimeSeconds, user, tenant, role };
  }

  private claims(session: Session, user: User, tenant: Tenant, role: Role): AccessTokenClaims {
    return { userId: user.id, email: user.email, tenantId: tenant.id, tenantSlug: tenant.slug, role, sessionId: session.id };
  }

  private async freeSlug(base: string): Promise<string> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const slug = attempt === 0 ? base : `${base.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
      if (!(await this.ctx.em.count(Tenant, { slug }))) return slug;
    }
    return `${base.slice(0, 40)}-${randomBytes(6).toString('hex')}`;
  }
}
