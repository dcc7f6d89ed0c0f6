/** Invitations and membership changes. */
import type { Invitation } from '../domains/tenancy/invitation.entity.js';
import { AuthPayloadRef } from './accounts.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { toConnection } from './pagination.js';
import { MembershipRef, RoleEnum, TenantRef, UserRef } from './tenancy.js';
import { bounded } from './string-bounds.js';

export const InvitationRef = builder.objectRef<Invitation>('Invitation').implement({
  description: 'An offer of a role in a tenant to one email address: single use, expiring.',
  authScopes: (invitation) => ({ $all: { tenant: invitation.tenant.id, permission: 'member:manage' } }),
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: RoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    invitedBy: t.field({ type: UserRef, nullable: true, resolve: (invitation) => invitation.invitedBy?.id ?? null }),
  }),
});

const CreatedInvitationRef = builder.objectRef<{ invitation: Invitation; token: string }>('CreatedInvitation').implement({
  fields: (t) => ({
    invitation: t.field({ type: InvitationRef, resolve: (created) => created.invitation }),
    token: t.exposeString('token', { description: 'Give this to the invitee (shown once); they call acceptInvitation with it.' }),
  }),
});

builder.objectField(TenantRef, 'invitations', (t) =>
  t.connection({
    type: InvitationRef,
    description: 'Open invitations.',
    authScopes: { permission: 'member:manage' },
    resolve: async (_tenant, args, ctx) => toConnection(await ctx.services.members.invitations(args)),
  }),
);

builder.mutationFields((t) => ({
  inviteMember: t.field({
    type: CreatedInvitationRef,
    authScopes: { permission: 'member:manage' },
    args: { email: t.arg.string({ required: true, ...bounded('email', 'email') }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.members.invite(args),
  }),
  revokeInvitation: t.field({
    type: InvitationRef,
    authScopes: { permission: 'member:manage' },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.members.revokeInvitation(id),
  }),
  acceptInvitation: t.field({
    type: AuthPayloadRef,
    description: "Signed in as the invited email, or signed out with `password`: the existing account's (a sign-in attempt, limited as logIn) or the new account's. Returns a session in the new tenant.",
    args: {
      token: t.arg.string({ required: true, ...bounded('token', 'secret') }),
      password: t.arg.string({ required: false, ...bounded('password', 'secret') }),
      displayName: t.arg.string({ required: false, ...displayText('name', 'personal') }),
    },
    resolve: (_root, args, ctx) => ctx.services.invitationAcceptance.accept(args),
  }),
  updateMemberRole: t.field({
    type: MembershipRef,
    authScopes: { permission: 'member:manage' },
    args: { membership: t.arg.globalID({ required: true, for: [MembershipRef] }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: (_root, { membership, role }, ctx) => ctx.services.members.updateRole(membership.id, role),
  }),
  removeMember: t.boolean({
    description: "Ends the membership; the person's sessions in this tenant stop working at once.",
    authScopes: { permission: 'member:manage' },
    args: { membership: t.arg.globalID({ required: true, for: [MembershipRef] }) },
    resolve: async (_root, { membership }, ctx) => Boolean(await ctx.services.members.remove(membership.id)),
  }),
}));
