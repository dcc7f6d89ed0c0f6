/**
 * A person's own data: `exportMyData` gathers everything Sluice holds about the calling user
 * (profile, memberships, sessions, API keys they created, their usage and audit events, in
 * every tenant) and `deleteMyAccount` erases it. Both run one SECURITY DEFINER function for
 * the authenticated user's id only (the personal_data migration).
 *
 * Erasure keeps the audit chain verifiable: the user's audit events keep their hashed payload
 * (which names them only by id) and lose their personal data (email, IP, user agent), which
 * lies outside the hash, for a pseudonym.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from '../access/roles.js';
import { boundSql } from '../../db/bound-sql.js';
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
  constructor(private readonly ctx: ServiceContext) {}

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

  /** Needs the account's password (a stolen access token alone cannot erase an account). */
  async deleteMyAccount(password: string): Promise<boolean> {
    const userId = this.userId();
    const user = await this.ctx.em.findOne(User, { id: userId }, { fields: ['passwordHash'] as never });
    if (!user || !(await verifyPassword(user.passwordHash, password))) {
      throw new UnauthenticatedError('The password is not right', { reason: 'credentials', field: 'password' });
    }
    const pseudonym = `erased-${randomBytes(8).toString('hex')}`;
    const [row] = await boundSql<{ sole: string[] }>(this.ctx.em, 'select erase_user(?::uuid, ?) as sole', [userId, pseudonym]);
    if (row!.sole.length > 0) {
      throw new ConflictError(`You are the only owner of ${row!.sole.join(', ')}: make another member an owner first`, { reason: 'SOLE_OWNER', tenants: row!.sole });
    }
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

  private userId(refusal = 'Only a signed-in person has an account to export or delete'): string {
    const { actor } = this.ctx;
    if (actor.kind === 'anonymous') throw new UnauthenticatedError('Sign in first');
    if (actor.kind !== 'user') throw new ForbiddenError(refusal, { reason: 'NOT_A_USER' });
    return actor.userId;
  }
}
