/**
 * Members of a tenant: invitations, role changes, removal. A tenant always keeps at least one
 * OWNER, and nobody hands out a role above their own. Accepting an invitation is the invitee's
 * side, a sign-in: identity/invitation-acceptance.service.ts.
 */
import { CREDENTIAL_PREFIX, hashToken, newOpaqueToken } from '../../platform/secrets/opaque-tokens.js';
import { assertCan, assertMayGrant } from '../access/permissions.js';
import { roleAtLeast, type Role } from '../access/roles.js';
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
export const INVITATION_MARKS = { email: 'personal' } as const;

/**
 * What members leave behind in other domains (identity's keys and providers), and who answers
 * for what an actor makes: given by services.ts, so tenancy does not reach into identity.
 */
export interface MemberAftermath {
  /** Ends the person's sessions active in the tenant, so re-admission does not revive their tokens. */
  endSessionsOf(userId: string, tenantId: string): Promise<void>;
  /** Revokes the live API keys the person created in the tenant. */
  revokeKeysOf(userId: string): Promise<void>;
  /** Disables the identity providers the person answers for in the tenant. */
  disableProvidersOf(userId: string, reason: 'registrar-removed' | 'registrar-demoted'): Promise<void>;
  /**
   * The person who answers for what the current actor makes (identity/answerable-person.ts),
   * their membership held until the transaction ends: a removal of them waits, then sees it.
   */
  heldAnswerablePerson(): Promise<string | null>;
  /**
   * The key or provider behind the current actor, recorded so its revocation revokes what it
   * made; `notAfter`: the latest what it makes may live (a key's chain's end), null for none.
   */
  parentCredential(): Promise<{ apiKeyId: string | null; providerId: string | null; notAfter: Date | null }>;
}

export class MembersService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly aftermath: MemberAftermath,
  ) {}

  /** Returns the invitation and its token, shown once: the inviter passes it on. */
  async invite(input: { email: string; role: Role }): Promise<{ invitation: Invitation; token: string }> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'member:manage');
    assertMayGrant(actor, input.role);
    const email = normalizeEmail(input.email);
    if (await em.count(Membership, { user: { email } })) throw new ConflictError('This person is already a member', { field: 'email' });
    const token = newOpaqueToken(CREDENTIAL_PREFIX.invitation);
    const inviter = await this.aftermath.heldAnswerablePerson();
    const parent = await this.aftermath.parentCredential();
    // Sent by a key: the offer ends when that key does (identity/credential-lifetimes.ts), and
    // acceptance checks the key again, in case its life was cut since.
    const standard = new Date(Date.now() + INVITATION_TTL_MS);
    const expiresAt = parent.notAfter && parent.notAfter < standard ? parent.notAfter : standard;
    const invitation = em.create(Invitation, {
      tenant: actor.tenantId,
      email,
      role: input.role,
      tokenHash: hashToken(token),
      invitedBy: inviter,
      invitedByPerson: inviter !== null,
      createdByApiKeyId: parent.apiKeyId,
      createdByProviderId: parent.providerId,
      expiresAt,
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
    // A demotion ends what the old role let them hand out: invitations above the new role, and
    // providers (whose tokens act as up to ADMIN) once they may no longer manage them.
    await this.revokeInvitationsOf(membership.user.id, 'inviter-demoted', role);
    if (!roleAtLeast(role, 'ADMIN')) await this.aftermath.disableProvidersOf(membership.user.id, 'registrar-demoted');
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
    await this.aftermath.endSessionsOf(membership.user.id, membership.tenant.id);
    await this.endWhatTheyHandedOut(membership.user.id);
    return membership;
  }

  /**
   * The context's actor is leaving this tenant with their account (deleteMyAccount, the actor
   * bound to this tenant): `remove` without its checks, with its events on this tenant's chain.
   * Until then erase_user revoked their keys and dropped the membership in SQL, and the
   * tenant's admins found nothing on their trail (attacker review). The row itself goes with
   * the account in erase_user, which reads the memberships to know on which chains the address
   * is the account's to erase; their sessions go with the account too. A tenant with no other
   * member is deleted with the account: there is nobody to tell.
   */
  async leaveWithAccount(): Promise<void> {
    const { actor, em } = this.ctx;
    if (actor.kind !== 'user') throw new Error('Only a person leaves with their account');
    const membership = await em.findOne(Membership, { user: actor.userId });
    if (!membership || (await em.count(Membership, { user: { $ne: actor.userId } })) === 0) return;
    auditChange(this.ctx, 'member.remove', { type: 'Membership', id: membership.id }, { userId: actor.userId, role: membership.role }, null);
    await this.endWhatTheyHandedOut(actor.userId);
  }

  /** A former member's keys, pending invitations and identity providers, each ended with its event. */
  private async endWhatTheyHandedOut(userId: string): Promise<void> {
    await this.aftermath.revokeKeysOf(userId);
    await this.revokeInvitationsOf(userId, 'inviter-removed');
    await this.aftermath.disableProvidersOf(userId, 'registrar-removed');
  }

  /**
   * Revokes the pending invitations `userId` answers for (all, or those above `keptUpTo`), each
   * a `member.invitation.revoke` with the reason: otherwise a removed ADMIN could accept their
   * own ADMIN invitation. Acceptance checks the inviter again (invitation-acceptance.service.ts).
   */
  private async revokeInvitationsOf(userId: string, reason: 'inviter-removed' | 'inviter-demoted', keptUpTo?: Role): Promise<void> {
    const { em } = this.ctx;
    const now = new Date();
    const pending = await em.find(Invitation, { invitedBy: userId, acceptedAt: null, revokedAt: null, expiresAt: { $gt: now } });
    const revoked = pending.filter((invitation) => !keptUpTo || !roleAtLeast(keptUpTo, invitation.role));
    for (const invitation of revoked) invitation.revokedAt = now;
    await em.flush();
    for (const invitation of revoked) {
      const before = { email: invitation.email, role: invitation.role, revokedAt: null };
      auditChange(this.ctx, 'member.invitation.revoke', { type: 'Invitation', id: invitation.id }, before, { ...before, revokedAt: now, reason }, INVITATION_MARKS);
    }
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
