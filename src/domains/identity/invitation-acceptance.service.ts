/**
 * The invitee's side of an invitation (tenancy/members.service.ts issues them): signed in as
 * the invited email, giving its account's password, or signing up as it, they become a member and get a session in the
 * invitation's tenant (a signed-in caller's own session, moved there: AccountService.sessionFor). It lives in identity because its result is a sign-in.
 */
import { CREDENTIAL_PREFIX, hashToken, looksLike } from '../../platform/secrets/opaque-tokens.js';
import { LockMode } from '@mikro-orm/core';
import { roleAtLeast } from '../access/roles.js';
import { auditEvent } from '../audit/record.js';
import { displayName } from '../display-text.js';
import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';
import { Invitation } from '../tenancy/invitation.entity.js';
import { Membership } from '../tenancy/membership.entity.js';
import { heldMembership } from '../tenancy/held-membership.js';
import { User } from '../tenancy/user.entity.js';
import { AccountService, type AuthPayload } from './account.service.js';
import { keyChainOf } from './credential-lifetimes.js';
import { assertAcceptablePassword, hashPassword } from './passwords.js';
import { rememberSignInAddress } from './sign-in-addresses.js';
import { flushOrConflict } from '../unique-names.js';

export class InvitationAcceptanceService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Accepts an invitation: signed in as the invited email, or with `password`: the existing
   * account's (a sign-in) or the new account's (a sign-up). Single use; the membership and a session in the invitation's tenant are the result.
   */
  async accept(input: { token: string; password?: string | null; displayName?: string | null }): Promise<AuthPayload> {
    const { actor, em, deps } = this.ctx;
    const invalid = new NotFoundError('Invitation', { reason: 'invalid' });
    if (!looksLike(input.token, CREDENTIAL_PREFIX.invitation)) throw invalid;
    const record = await deps.credentials.invitation(hashToken(input.token));
    if (!record || record.revokedAt) throw invalid;
    if (record.acceptedAt) throw new ConflictError('This invitation has already been used', { reason: 'used' });
    if (record.expiresAt <= new Date()) throw new ValidationError('This invitation has expired', { reason: 'expired' });
    if (actor.kind !== 'user' && actor.kind !== 'anonymous') {
      throw new ForbiddenError('Invitations are accepted by people, not keys or external identities', { reason: 'actor' });
    }

    // The invitation token is the proof of this tenant: enter it for the writes below.
    await this.ctx.scope.enterTenant(record.tenantId, actor.kind === 'user' ? actor.userId : null);
    // Locked in the order a removal or demotion of the inviter takes the same rows (their
    // membership, then their invitations: members.service.ts): the inviter's membership for
    // share, then the invitation. Taken the other way round, an acceptance hashing a password
    // with the invitation held deadlocked against the owner removing the inviter (one of them
    // UNAVAILABLE DEADLOCK; test/identity/accept-versus-inviter-change.test.ts). Held, a removal
    // or demotion racing this waits for it, then finds the new member and can remove them in
    // turn; one that came first is seen (the row gone, or its new role).
    const invitedBy = (await em.findOneOrFail(Invitation, { id: record.invitationId })).invitedBy?.id ?? null;
    const inviter = invitedBy ? await heldMembership(em, invitedBy, record.tenantId) : null;
    // Held before an account is made or a password checked, and checked again: a second
    // acceptance of it waits here and is refused as used (it used to create the same account
    // too and fail on the unique email, INTERNAL); a removal that revokes it either commits
    // first or waits for this.
    const invitation = await em.findOneOrFail(Invitation, { id: record.invitationId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (invitation.revokedAt) throw invalid;
    if (invitation.acceptedAt) throw new ConflictError('This invitation has already been used', { reason: 'used' });

    let user: User;
    if (actor.kind === 'user') {
      if (actor.email !== record.email) throw new ForbiddenError('This invitation is for another email address', { reason: 'email' });
      user = await em.findOneOrFail(User, { id: actor.userId });
    } else {
      if (await em.count(User, { email: record.email })) {
        // A person with no tenant left cannot sign in first (logIn needs a membership), so the
        // account's password is accepted here instead: a sign-in, counted in logIn's attempt
        // buckets (plugins/attempt-limits.ts) and refused with logIn's answer.
        if (!input.password) throw new UnauthenticatedError("An account with this email exists: sign in, then accept, or accept with the account's password", { reason: 'sign-in' });
        user = await new AccountService(this.ctx).verifiedAccount(record.email, input.password, { tenant: record.tenantSlug, invitationId: record.invitationId });
      } else {
        if (!input.password) throw new ValidationError('Choose a password to create your account', { field: 'password' });
        assertAcceptablePassword(input.password);
        user = em.create(User, { email: record.email, displayName: input.displayName ? displayName(input.displayName, 'displayName') : null, passwordHash: await hashPassword(input.password) });
        // Another request made the account meanwhile (another tenant's invitation, or signUp):
        // refused, and this request's writes, the invitation's acceptance among them, roll back
        // with its mutation (graphql/mutation-savepoints.ts), so the invitation can be accepted
        // again, with that account's password.
        await flushOrConflict(em, () => new ConflictError('An account with this email was created meanwhile: accept again with its password', { field: 'email' }));
      }
      // The password was set or proven here: like a sign-in's, this address is where its owner is.
      if (this.ctx.request?.ip) await rememberSignInAddress(em, deps.secrets, user.id, this.ctx.request.ip);
    }

    await this.ctx.scope.enterTenant(record.tenantId, user.id);
    this.assertInviterStillGrants(invitation, inviter);
    await this.assertSendingKeyStillLive(invitation, invalid);
    if (await em.count(Membership, { user })) throw new ConflictError('You are already a member of this tenant', { reason: 'member' });
    const membership = em.create(Membership, { tenant: record.tenantId, user, role: record.role });
    invitation.acceptedAt = new Date();
    await em.flush();
    // In the tenant's own trail: the request's event goes to the caller's (an anonymous
    // invitee's is the platform chain), and the tenant would not see who joined it.
    auditEvent(this.ctx, {
      tenantId: record.tenantId,
      action: 'config.member.join',
      outcome: 'ok',
      details: { target: { type: 'Membership', id: membership.id }, before: null, after: { userId: user.id, role: record.role, invitationId: invitation.id } },
    });
    const accounts = new AccountService(this.ctx);
    return accounts.sessionFor(user, record.tenantId);
  }

  /**
   * An invitation a key sent ends with that key and the keys above it (credential-lifetimes.ts):
   * its expiry was cut to theirs when it was sent, but a key's life can be cut later (rotation
   * ends it with its grace period), so the chain is read again here. A revoked one answers as a
   * revoked invitation does (revocation revokes the invitation too).
   */
  private async assertSendingKeyStillLive(invitation: Invitation, invalid: NotFoundError): Promise<void> {
    if (!invitation.createdByApiKeyId) return;
    const chain = await keyChainOf(this.ctx.em, invitation.createdByApiKeyId);
    if (chain.revoked) throw invalid;
    if (chain.endsAt && chain.endsAt <= new Date()) {
      throw new ValidationError('This invitation has expired: the API key that sent it has', { reason: 'expired' });
    }
  }

  /**
   * An invitation grants no more than the person who answers for it may grant now: removed,
   * demoted below its role, or their account deleted, and it is refused.
   */
  private assertInviterStillGrants(invitation: Invitation, inviter: Membership | null): void {
    if (!invitation.invitedByPerson) return;
    if (!inviter || !roleAtLeast(inviter.role, invitation.role)) {
      throw new ForbiddenError(`Whoever invited you can no longer grant the ${invitation.role} role here: ask the tenant's administrators for a new invitation`, {
        reason: 'inviter-gone',
      });
    }
  }
}
