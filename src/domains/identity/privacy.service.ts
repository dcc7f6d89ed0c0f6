/**
 * A person's own data: `exportMyData` gathers everything Sluice holds about the calling user
 * (profile, memberships, sessions, API keys they created, their usage and audit events, in
 * every tenant) and `deleteMyAccount` erases it. Both run one SECURITY DEFINER function for
 * the authenticated user's id only (the personal_data migration). Before the erasure, each
 * tenant the person shares with others records their leaving on its own chain, as a removal.
 *
 * Erasure keeps the audit chain verifiable: the user's audit events keep their hashed payload
 * (which names them only by id) and lose their personal data (email, IP, user agent), which
 * lies outside the hash, for a pseudonym.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from '../access/roles.js';
import type { Actor } from '../actor.js';
import { boundSql } from '../../db/bound-sql.js';
import type { AuditRecord } from '../audit/audit-log.js';
import { holdRecords } from '../audit/held-records.js';
import { auditRequestOf } from '../audit/record.js';
import { ConflictError, ForbiddenError, UnauthenticatedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';
import { User } from '../tenancy/user.entity.js';
import { verifyPassword } from './passwords.js';

/** One of the calling user's memberships: a tenant they may switch to. */
export interface MyTenant {
  tenantId: string;
  slug: string;
  name: string;
  role: Role;
  /** The tenant of this request's session. */
  current: boolean;
}

export class PrivacyService {
  constructor(
    private readonly ctx: ServiceContext,
    /** The context's actor (a person bound to one of their tenants) leaves it with their account. */
    private readonly leave: (tenantCtx: ServiceContext) => Promise<void>,
  ) {}

  async exportMyData(): Promise<Record<string, unknown>> {
    const userId = this.userId();
    const [row] = await boundSql<{ data: Record<string, unknown> }>(this.ctx.em, 'select export_user_data(?::uuid) as data', [userId]);
    return { exportedAt: new Date().toISOString(), ...row!.data };
  }

  /**
   * The tenants the calling user belongs to, with their role in each (the tenant switcher).
   * Only a person has memberships: an API key or external identity is confined to its one
   * tenant, so it is refused rather than shown a list of one.
   */
  async myTenants(): Promise<MyTenant[]> {
    const userId = this.userId('Only a signed-in person has tenants to list');
    const rows = await boundSql<{ tenant_id: string; slug: string; name: string; role: Role }>(
      this.ctx.em,
      'select tenant_id, slug, name, role from user_memberships(?::uuid)',
      [userId],
    );
    return rows.map((row) => ({ tenantId: row.tenant_id, slug: row.slug, name: row.name, role: row.role, current: row.tenant_id === this.ctx.actor.tenantId }));
  }

  /**
   * Needs the account's password (a stolen access token alone cannot erase an account). Each
   * tenant the person shares with others first sees them leave as `removeMember` would show it
   * (MembersService.leaveWithAccount: `config.member.remove`, their keys, invitations and
   * identity providers ended, each event on that tenant's chain, the person the actor); then
   * erase_user erases the account. Those events are held until erase_user has agreed (it
   * refuses a sole owner) and written once the request commits.
   */
  async deleteMyAccount(password: string): Promise<boolean> {
    const actor = this.person();
    const { userId } = actor;
    const { em, scope } = this.ctx;
    const user = await em.findOne(User, { id: userId }, { fields: ['passwordHash'] as never });
    if (!user || !(await verifyPassword(user.passwordHash, password))) {
      throw new UnauthenticatedError('The password is not right', { reason: 'credentials', field: 'password' });
    }
    // A refusal below undoes the departures' writes (each mutation field runs in a savepoint:
    // graphql/mutation-savepoints.ts), but not events already queued: they wait for the outcome.
    const held = holdRecords(this.ctx.deps.audit);
    for (const tenant of await this.myTenants()) {
      // Each tenant's rows as that tenant's (filter and RLS), in this transaction.
      await scope.enterTenant(tenant.tenantId, userId);
      const there = { ...actor, tenantId: tenant.tenantId, tenantSlug: tenant.slug, role: tenant.role };
      await this.leave({ ...this.ctx, actor: there, deps: { ...this.ctx.deps, audit: held.audit } });
    }
    await scope.enterTenant(actor.tenantId, userId);
    const pseudonym = `erased-${randomBytes(8).toString('hex')}`;
    const [row] = await boundSql<{ sole: string[] }>(em, 'select erase_user(?::uuid, ?) as sole', [userId, pseudonym]);
    if (row!.sole.length > 0) {
      throw new ConflictError(`You are the only owner of ${row!.sole.join(', ')}: make another member an owner first`, { reason: 'SOLE_OWNER', tenants: row!.sole });
    }
    // The person is erased: like account.deleted, their events keep no email, address or agent.
    const erased = (record: AuditRecord): AuditRecord => ({
      ...record,
      actor: { ...record.actor, email: null },
      request: record.request ? { ...record.request, ip: null, userAgent: null } : record.request,
    });
    scope.afterCommit(() => held.release(erased));
    this.ctx.deps.audit?.record({
      tenantId: null,
      action: 'account.deleted',
      outcome: 'ok',
      actor: { kind: 'user', id: userId, email: null },
      request: { ...auditRequestOf(this.ctx.request)!, ip: null, userAgent: null },
      details: { pseudonym },
    });
    return true;
  }

  private userId(refusal?: string): string {
    return this.person(refusal).userId;
  }

  private person(refusal = 'Only a signed-in person has an account to export or delete'): Extract<Actor, { kind: 'user' }> {
    const { actor } = this.ctx;
    if (actor.kind === 'anonymous') throw new UnauthenticatedError('Sign in first');
    if (actor.kind !== 'user') throw new ForbiddenError(refusal, { reason: 'NOT_A_USER' });
    return actor;
  }
}
