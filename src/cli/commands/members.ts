/** `sluice members list|invite|role|remove` and `sluice invitations list|revoke`. */
import { InvitationsDocument, InviteMemberDocument, MembersDocument, RemoveMemberDocument, RevokeInvitationDocument, UpdateMemberRoleDocument, type MembersQuery, type Role, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { allPages, confirmed, holds } from './lookup.js';

const ROLES: readonly Role[] = ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER'];

type Tenant = NonNullable<MembersQuery['viewer']['tenant']>;

type Invitation = NonNullable<Tenant['invitations']>['edges'][number]['node'];

/**
 * The tenant's members and, for those who manage members (MEMBER_MANAGE), its open invitations,
 * every page of each: a refused field would fail the whole request, so a VIEWER's or a [read]
 * key's list asks for the members alone (without `memberEmail:read`, a key sees user ids).
 */
async function membersOf(client: SluiceClient, withInvitations = true): Promise<{ members: Tenant['members']['edges'][number]['node'][]; invitations: Invitation[] }> {
  const [members, invitations] = await Promise.all([
    allPages(async (after) => tenantOf(await client.query(MembersDocument, { first: 100, after, withInvitations: false })).members),
    withInvitations ? invitationsOf(client) : Promise.resolve([]),
  ]);
  return { members, invitations };
}

/** Every open invitation of the tenant, 100 a request. */
function invitationsOf(client: SluiceClient): Promise<Invitation[]> {
  return allPages(async (after) => tenantOf(await client.query(InvitationsDocument, { first: 100, after })).invitations);
}

function tenantOf<T>(data: { viewer: { tenant?: T | null } }): T {
  if (!data.viewer.tenant) throw new CliError('members belong to a tenant: sign in as a tenant member', EXIT.failed);
  return data.viewer.tenant;
}

function roleArgument(value: string | undefined): Role {
  const role = String(value ?? '').toUpperCase() as Role;
  if (!ROLES.includes(role)) throw new CliError(`the role must be one of ${ROLES.map((name) => name.toLowerCase()).join(', ')}`, EXIT.usage);
  return role;
}

/** A member by email or membership id. */
async function findMember(client: SluiceClient, reference: string | undefined) {
  if (!reference) throw new CliError('which member? give their email (see `sluice members list`)', EXIT.usage);
  const { members } = await membersOf(client);
  const member = members.find((candidate) => candidate.user.email?.toLowerCase() === reference.toLowerCase() || candidate.id === reference);
  if (!member) throw new CliError(`no member "${reference}" in your tenant (see \`sluice members list\`)`, EXIT.failed);
  return member;
}

export const membersList: Command = {
  name: 'members list',
  summary: "your tenant's members and open invitations",
  usage: '',
  help: 'Lists the members of your tenant with their roles, then (for ADMIN and above) the invitations not yet accepted. A key without the admin scope sees user ids, not emails.',
  async run(cli) {
    const client = cli.client();
    const { members, invitations } = await membersOf(client, await holds(client, 'MEMBER_MANAGE'));
    const rows = [
      // An email where the caller may read it (`memberEmail:read`), else the user's id.
      ...members.map((member) => [member.user.email ?? member.user.id, member.role, 'member', member.createdAt]),
      ...invitations.map((invitation) => [invitation.email, invitation.role, `invited, expires ${invitation.expiresAt}`, invitation.createdAt]),
    ];
    cli.print(table(['EMAIL', 'ROLE', 'STATE', 'SINCE'], rows), { members, invitations });
  },
};

export const membersInvite: Command = {
  name: 'members invite',
  summary: 'invite someone by email; prints the invitation token (shown once)',
  usage: '<email> [--role owner|admin|member|viewer]',
  help: `Invites someone to your tenant with a role (default member). The invitation token goes to
stdout, shown only this once: give it to them; they accept it in the console or with the
acceptInvitation mutation. Needs ADMIN (OWNER to invite an owner).`,
  options: { role: { type: 'string' } },
  async run(cli, args, values) {
    const [email] = args;
    if (!email) throw new CliError('whom? give their email', EXIT.usage);
    const role = roleArgument((values.role as string | undefined) ?? 'member');
    const { inviteMember } = await cli.client().mutate(InviteMemberDocument, { email, role });
    if (!cli.json) cli.note(`Invited ${inviteMember.invitation.email} as ${inviteMember.invitation.role}, until ${inviteMember.invitation.expiresAt}. The token, shown once:`);
    cli.print(inviteMember.token, { token: inviteMember.token, ...inviteMember.invitation });
  },
};

export const membersRole: Command = {
  name: 'members role',
  summary: "change a member's role",
  usage: '<email> <owner|admin|member|viewer>',
  help: "Changes a member's role in your tenant. Needs ADMIN (OWNER for owners).",
  async run(cli, args) {
    const role = roleArgument(args[1]);
    const member = await findMember(cli.client(), args[0]);
    const { updateMemberRole } = await cli.client().mutate(UpdateMemberRoleDocument, { membership: member.id, role });
    cli.print(`${updateMemberRole.user.email} is now ${updateMemberRole.role}`, updateMemberRole);
  },
};

export const membersRemove: Command = {
  name: 'members remove',
  summary: 'remove a member (asks first unless --yes)',
  usage: '<email> [--yes]',
  help: `Ends someone's membership of your tenant; their sessions here stop working at once and
the API keys they created are revoked. At a terminal it asks you to type the email; elsewhere
it needs --yes. Needs ADMIN.`,
  options: { yes: { type: 'boolean', short: 'y' } },
  async run(cli, args, values) {
    const member = await findMember(cli.client(), args[0]);
    const name = member.user.email ?? member.id;
    await confirmed(cli, values.yes, `${name}'s membership`, name);
    await cli.client().mutate(RemoveMemberDocument, { membership: member.id });
    cli.print(`Removed ${name}`, { id: member.id, email: member.user.email, removed: true });
  },
};

export const invitationsList: Command = {
  name: 'invitations list',
  summary: 'the invitations not yet accepted',
  usage: '',
  help: 'Lists the open invitations of your tenant (never their tokens). Needs ADMIN.',
  async run(cli) {
    const invitations = await invitationsOf(cli.client());
    cli.print(table(['ID', 'EMAIL', 'ROLE', 'INVITED BY', 'EXPIRES'], invitations.map((invitation) => [invitation.id, invitation.email, invitation.role, invitation.invitedBy?.email ?? '-', invitation.expiresAt])), invitations);
  },
};

export const invitationsRevoke: Command = {
  name: 'invitations revoke',
  summary: 'withdraw an invitation',
  usage: '<email or id>',
  help: 'Withdraws an open invitation (by the email it was sent to, or its id): its token stops working. Needs ADMIN.',
  async run(cli, args) {
    const [reference] = args;
    if (!reference) throw new CliError('which invitation? give its email or id', EXIT.usage);
    const invitations = await invitationsOf(cli.client());
    const invitation = invitations.find((candidate) => candidate.id === reference || candidate.email.toLowerCase() === reference.toLowerCase());
    if (!invitation) throw new CliError(`no open invitation "${reference}" (see \`sluice invitations list\`)`, EXIT.failed);
    const { revokeInvitation } = await cli.client().mutate(RevokeInvitationDocument, { id: invitation.id });
    cli.print(`Revoked the invitation of ${revokeInvitation.email}`, revokeInvitation);
  },
};
