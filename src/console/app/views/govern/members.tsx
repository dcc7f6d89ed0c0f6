/**
 * The tenant's members (change a role, remove one after asking) and invitations (invite by
 * email with a role: the single-use token is shown once, for the inviter to pass on, since
 * Sluice sends no email; revoke one after asking). Those without MEMBER_MANAGE see the members
 * alone, read-only: invitations and every change are the managers' (the API refuses the rest).
 */
import { useCallback, useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import {
  InvitationsDocument,
  InviteMemberDocument,
  MembersDocument,
  RemoveMemberDocument,
  RevokeInvitationDocument,
  UpdateMemberRoleDocument,
  type MembersQuery,
  type Role,
} from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { usePagedList } from '../../paged-list.js';
import { ACTIONS, EmptyState, ResourceList, ResourceTable } from '../../resource-list.js';
import { useSession } from '../../session.js';
import { Confirm } from './confirm.js';
import { ShownOnce } from './shown-once.js';

type Tenant = NonNullable<MembersQuery['viewer']['tenant']>;
type Member = Tenant['members']['edges'][number]['node'];
type Invitation = NonNullable<Tenant['invitations']>['edges'][number]['node'];

export const ROLES: [Role, string][] = [
  ['VIEWER', 'Viewer: reads data, queries endpoints'],
  ['MEMBER', 'Member: also writes datasets and documents'],
  ['ADMIN', 'Admin: also manages endpoints, models, policies, keys and members'],
  ['OWNER', 'Owner: also manages owners, tenant settings and deletion'],
];

export function Members() {
  const { call, signedIn, may } = useSession();
  // Known before the view renders (the shell waits for it): nothing refused is ever asked.
  const manage = may('MEMBER_MANAGE');
  const [removing, setRemoving] = useState<Member | undefined>();
  const [revoking, setRevoking] = useState<Invitation | undefined>();
  const [invited, setInvited] = useState<{ email: string; token: string } | undefined>();
  const [failure, fail, dismiss] = useFailure();
  // The first page of invitations comes with the first page of members; later ones on their own.
  const invitations = usePagedList(
    useCallback(async (after: string | undefined) => (await call((client) => client.query(InvitationsDocument, { first: 100, after }))).viewer.tenant?.invitations, [call]),
    fail,
    { loadFirstPage: false },
  );
  const showInvitations = invitations.show;
  const members = usePagedList(
    useCallback(
      async (after: string | undefined) => {
        const { viewer } = await call((client) => client.query(MembersDocument, { first: 100, after, withInvitations: manage }));
        if (!after && manage) showInvitations(viewer.tenant?.invitations ?? undefined);
        return viewer.tenant?.members;
      },
      [call, showInvitations, manage],
    ),
    fail,
  );

  const run = async (request: Parameters<typeof call>[0]) => {
    try {
      await call(request);
    } catch (error) {
      fail(error);
    }
    await members.reload();
  };

  return (
    <>
      <h1 className="h3">Members</h1>
      <p className="text-body-secondary">People who may sign in to this tenant, each with a role. Nobody grants a role above their own, and a tenant always keeps one owner.</p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      <ResourceList list={members} failure={failure} loadingLabel="Loading members">
        {(rows) => (
          <ResourceTable id="members-table" caption="Members of the tenant" columns={manage ? ['Email', 'Name', 'Role', 'Member since', ACTIONS] : ['Email', 'Name', 'Role', 'Member since']}>
            {rows.map((member) => (
              <tr key={member.id} data-email={member.user.email}>
                <td className="text-break">{member.user.email}</td>
                <td>{member.user.displayName ?? ''}</td>
                <td>
                  {manage ? (
                    <Form.Select
                      size="sm"
                      aria-label={`Role of ${member.user.email}`}
                      value={member.role}
                      onChange={(event) => void run((client) => client.mutate(UpdateMemberRoleDocument, { membership: member.id, role: event.target.value as Role }))}
                    >
                      {ROLES.map(([role]) => (
                        <option key={role} value={role}>
                          {role.toLowerCase()}
                        </option>
                      ))}
                    </Form.Select>
                  ) : (
                    member.role.toLowerCase()
                  )}
                </td>
                <td>{formatWhen(member.createdAt)}</td>
                {manage ? (
                  <td className="text-end">
                    {member.user.id === signedIn?.user?.id ? null : (
                      <Button size="sm" variant="outline-danger" onClick={() => setRemoving(member)}>
                        Remove
                      </Button>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </ResourceTable>
        )}
      </ResourceList>

      {manage ? (
        <>
          <h2 className="h5 mt-4">Invitations</h2>
          {invited ? (
            <ShownOnce id="invitation-link" title={`Invitation link for ${invited.email}`} value={invitationLink(invited.token)} onDismiss={() => setInvited(undefined)}>
              Sluice sends no email: pass this single-use link to {invited.email} yourself. It is valid for 7 days and shown only now; opening it, they accept signed in as
              that email, or choose a password to create their account.
            </ShownOnce>
          ) : null}
          <ResourceList list={invitations} failure={failure} loadingLabel="Loading invitations"
            empty={
              <EmptyState id="invitations-empty" className="mb-3">
                No open invitations. Invite someone below.
              </EmptyState>
            }
            loadMoreLabel="Load more invitations"
            loadMoreClassName="mb-3"
          >
            {(rows) => (
              <ResourceTable id="invitations-table" caption="Open invitations" className="mb-3" columns={['Email', 'Role', 'Invited by', 'Expires', ACTIONS]}>
                {rows.map((invitation) => (
                  <tr key={invitation.id} data-email={invitation.email}>
                    <td className="text-break">{invitation.email}</td>
                    <td>{invitation.role.toLowerCase()}</td>
                    <td className="text-break">{invitation.invitedBy?.email ?? ''}</td>
                    <td>{formatWhen(invitation.expiresAt)}</td>
                    <td className="text-end">
                      <Button size="sm" variant="outline-danger" onClick={() => setRevoking(invitation)}>
                        Revoke
                      </Button>
                    </td>
                  </tr>
                ))}
              </ResourceTable>
            )}
          </ResourceList>
          <Invite
            onInvited={(email, token) => {
              setInvited({ email, token });
              void members.reload();
            }}
          />
        </>
      ) : null}

      <Confirm
        title={removing ? `Remove ${removing.user.email}?` : undefined}
        confirmLabel="Remove"
        keepLabel="Keep them"
        onCancel={() => setRemoving(undefined)}
        onConfirm={() => {
          const member = removing;
          setRemoving(undefined);
          if (member) void run((client) => client.mutate(RemoveMemberDocument, { membership: member.id }));
        }}
      >
        They lose access to this tenant at once: their sessions here stop working and the API keys they created are revoked. Their account and other tenants are kept.
      </Confirm>
      <Confirm
        title={revoking ? `Revoke the invitation for ${revoking.email}?` : undefined}
        confirmLabel="Revoke"
        keepLabel="Keep it"
        onCancel={() => setRevoking(undefined)}
        onConfirm={() => {
          const invitation = revoking;
          setRevoking(undefined);
          if (invitation) void run((client) => client.mutate(RevokeInvitationDocument, { id: invitation.id }));
        }}
      >
        Its token stops working; you can invite them again later.
      </Confirm>
    </>
  );
}

function Invite({ onInvited }: { onInvited: (email: string, token: string) => void }) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const email = String(form.get('email')).trim();
    setBusy(true);
    try {
      const { inviteMember } = await call((client) => client.mutate(InviteMemberDocument, { email, role: String(form.get('role')) as Role }));
      formElement.reset();
      onInvited(inviteMember.invitation.email, inviteMember.token);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="invite-title" className="narrow">
      <h3 id="invite-title" className="h6">
        Invite someone
      </h3>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not invite" />
      <Form onSubmit={submit} noValidate id="invite-form">
        <Form.Group className="mb-3" controlId="invite-email">
          <Form.Label>Email</Form.Label>
          <Form.Control name="email" type="email" required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="invite-role">
          <Form.Label>Role</Form.Label>
          <Form.Select name="role" defaultValue="MEMBER">
            {ROLES.map(([role, label]) => (
              <option key={role} value={role}>
                {label}
              </option>
            ))}
          </Form.Select>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Invite
        </Button>
      </Form>
    </section>
  );
}

/** The console's page that accepts the token; it travels in the fragment, which no server receives or logs. */
function invitationLink(token: string): string {
  return `${window.location.origin}/console/accept-invitation#${new URLSearchParams({ token })}`;
}
