/**
 * Members of a tenant: invitations, role changes, removal. A tenant always keeps at least one
 * OWNER, and nobody hands out a role above their own. Accepting an invitation is the invitee's
 * side, a sign-in: identity/invitation-acceptance.service.ts.
 */
import { CREDENTIAL_PREFIX, hashToken, newOpaqueToken } from '../../platform/secrets/opaque-tokens.js';
import { assertCan, assertMayGrant } from '../access/permissions.js';
import type { Role } from '../access/roles.js';
import { auditChange } from '../audit/record.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { normalizeEmail } from '../fields.js';
import { assertUuid } from '../ids.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { Invitation } from './invitation.entity.js';
import { Membership } from './membership.entity.js';

export const INVITATION_TTL_MS = 7 * 24 * 3600_000;

/** The invitee's email is personal data, as inviteMember(email:) is marked: outside the hashed payload. */
const INVITATION_MARKS = { email: 'personal' } as const;

export class MembersService {
  constructor(
    private readonly ctx: ServiceContext,
    /** Ends what a removed member left behind in the tenant: the API keys they created. */
    private readonly revokeKeysOf: (userId: string) => Promise<void>,
  ) {}

  /** Returns the invitation and its token, shown once: the inviter passes it on. */
  async invite(input: { email: string; role: Role }): Promise<{ invitation: Invitation; token: string }> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'member:manage');
    assertMayGrant(actor, input.role);
    const email = normalizeEmail(input.email);
    if (await em.count(Membership, { user: { email } })) throw new ConflictError('This person is already a member', { field: 'email' });
    const token = newOpaqueToken(CREDENTIAL_PREFIX.invitation);
    const invitation = em.create(Invitation, {
      tenant: actor.tenantId,
      email,
      role: input.role,
      tokenHash: hashToken(token),
      invitedBy: actor.userId,
      expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
    });
    await em.flush();
    auditChange(this.ctx, 'member.invite', { type: 'Invitation', id: invitation.id }, null, { email, role: input.role, expiresAt: invitation.expiresAt }, INVITATION_MARKS);
    return { invitation, token };
  }

  async invitations(request: PageRequest): Promise<Page<Invitation>> {
    assertCan(this.ctx.actor, 'member:manage');
    return keysetPage(this.ctx.em, Invitation, { acceptedAt: null, revokedAt: null }, request);
  }

  async revokeInvitation(id: string): Promise<Invitation> {
    assertCan(this.ctx.actor, 'member:manage');
    const invitation = await this.ctx.em.findOne(Invitation, { id: assertUuid(id) });
    if (!invitation) throw new NotFoundError('Invitation');
    const before = { email: invitation.email, role: invitation.role, revokedAt: invitation.revokedAt ?? null };
    invitation.revokedAt ??= new Date();
    await this.ctx.em.flush();
    auditChange(this.ctx, 'member.invitation.revoke', { type: 'Invitation', id: invitation.id }, before, { ...before, revokedAt: invitation.revokedAt }, INVITATION_MARKS);
    return invitation;
  }

  async updateRole(membershipId: string, role: Role): Promise<Membership> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'member:manage');
    const membership = await this.lockedMembership(membershipId);
    if (membership.role === 'OWNER' || role === 'OWNER') assertCan(actor, 'owner:manage');
    assertMayGrant(actor, role);
    if (membership.role === 'OWNER' && role !== 'OWNER') await this.assertAnotherOwner();
    const before = { userId: membership.user.id, role: membership.role };
    membership.role = role;
    await em.flush();
    auditChange(this.ctx, 'member.role', { type: 'Membership', id: membership.id }, before, { ...before, role });
    return membership;
  }

  async remove(membershipId: string): Promise<Membership> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'member:manage');
    const membership = await this.lockedMembership(membershipId);
    if (membership.role === 'OWNER') {
      assertCan(actor, 'owner:manage');
      await this.assertAnotherOwner();
    } else {
      assertMayGrant(actor, membership.role);
    }
    em.remove(membership);
    await em.flush();
    auditChange(this.ctx, 'member.remove', { type: 'Membership', id: membership.id }, { userId: membership.user.id, role: membership.role }, null);
    await this.revokeKeysOf(membership.user.id);
    return membership;
  }

  /** Locks the tenant's owner rows too, so two concurrent demotions cannot remove the last owner. */
  private async lockedMembership(id: string): Promise<Membership> {
    const { em, actor } = this.ctx;
    await em.getConnection().execute(
      `select id from memberships where tenant_id = ? and role = 'OWNER' for update`,
      [actor.tenantId],
      'all',
      em.getTransactionContext(),
    );
    const membership = await em.findOne(Membership, { id }, { populate: ['user'] });
    if (!membership) throw new NotFoundError('Membership');
    return membership;
  }

  private async assertAnotherOwner(): Promise<void> {
    if ((await this.ctx.em.count(Membership, { role: 'OWNER' })) <= 1) {
      throw new ConflictError('A tenant must keep at least one OWNER', { reason: 'last-owner' });
    }
  }
}
