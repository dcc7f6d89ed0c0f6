/**
 * An action that lasts only while its person is a member, racing `removeMember` of that person:
 * switching a session into the tenant, logging in there, creating or rotating a key, sending an
 * invitation. Each read the membership without a lock, so a removal that had deleted it but
 * not yet committed did not stop it, and the removal's later statements (ending the sessions
 * active in the tenant, revoking the person's keys and invitations) had already run, or read
 * before the action committed: the session moved in, the key or the invitation outlived the
 * removal, and worked again once the person was invited back (attacker review: 9 of 40 rounds
 * of switching while removing left a live session). Now each holds the membership for share, so
 * the removal waits for it or it waits for the removal and is refused.
 *
 * The order is forced, not left to timing: the test holds the person's pending invitation, so the
 * removal stops at revoking it, after its sessions and keys; the action is sent then, and may
 * finish (as it did before) or wait behind the removal (as it does now); then the test lets go.
 */
import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, codeOf, createApiKey, logIn, refresh, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { asOwner, lockWaiters, untilLockWaiters } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server, { tenantName: 'Removers' });
});
afterAll(() => server?.close());

const INVITE = 'mutation($email: String!) { inviteMember(email: $email, role: MEMBER) { token invitation { id } } }';
const sql = <T = any>(text: string, params: unknown[]) => asOwner(server, async (client) => (await client.query(text, params)).rows as T[]);

/**
 * A person with a tenant of their own (`home`: its session is active there) who is also an ADMIN
 * of the owner's tenant (`admin`: a session there), with an invitation pending there that they sent.
 */
async function adminOfTwoTenants() {
  const home = await signUp(server, { tenantName: 'Home' });
  const admin = await addMember(server, owner.accessToken, 'ADMIN', home.email);
  const invited = await server.graphql(INVITE, { token: admin.accessToken, variables: { email: uniqueEmail('pending') } });
  expect(invited.body.errors).toBeUndefined();
  const [person] = await sql<{ user_id: string; membership_id: string; tenant_id: string }>(
    `select u.id as user_id, m.id as membership_id, m.tenant_id from memberships m join users u on u.id = m.user_id
      join tenants t on t.id = m.tenant_id where u.email = $1 and t.slug = $2`,
    [home.email, owner.tenant.slug],
  );
  const [invitation] = await sql<{ id: string }>('select id from invitations where invited_by_id = $1 and tenant_id = $2', [person!.user_id, person!.tenant_id]);
  return { home, admin, ...person!, invitationId: invitation!.id };
}

type Person = Awaited<ReturnType<typeof adminOfTwoTenants>>;

/** The owner removes `person` while the test holds their invitation; `action` is sent once the removal waits there. Both answers. */
async function duringRemoval(person: Person, action: () => Promise<{ body: any }>) {
  return asOwner(server, async (holder) => {
    await holder.query('begin');
    await holder.query('select 1 from invitations where id = $1 for update', [person.invitationId]);
    const { rows } = await holder.query<{ pid: number }>('select pg_backend_pid() as pid');
    const removing = server.graphql('mutation($m: ID!) { removeMember(membership: $m) }', {
      token: owner.accessToken,
      variables: { m: encodeGlobalID('Membership', person.membership_id) },
    });
    // The membership is deleted, the sessions and keys dealt with; the removal waits at the invitation.
    await untilLockWaiters(server, { blockedBy: rows[0]!.pid }, 1, 'removals');
    let answered = false;
    const acting = action().finally(() => {
      answered = true;
    });
    // Either it ran through (the unlocked read) or it waits behind the removal (a second waiter).
    await pollUntil(
      async () => answered || (await lockWaiters(server, {})) === 2,
      (done) => done,
      { timeoutMs: 60_000, intervalMs: 50, failure: () => 'the action neither answered nor waited' },
    );
    await holder.query('rollback');
    const [removed, acted] = await Promise.all([removing, acting]);
    expect(codeOf(removed.body) ?? 'ok').toBe('ok');
    return acted;
  });
}

/** The refusal of an action whose membership a removal ended first. */
function expectRefusedAsFormerMember(body: any) {
  expect({ code: codeOf(body), reason: body.errors?.[0]?.extensions?.reason }).toEqual({ code: 'FORBIDDEN', reason: 'no-membership' });
}

const liveSessionsIn = async (person: Person) =>
  (await sql('select id from sessions where user_id = $1 and active_tenant_id = $2 and revoked_at is null', [person.user_id, person.tenant_id])).length;
const liveKeysBy = async (person: Person) =>
  (await sql('select id from api_keys where created_by_id = $1 and tenant_id = $2 and revoked_at is null', [person.user_id, person.tenant_id])).length;

describe('sessions moved or opened in a tenant while their person is removed from it', () => {
  it('switchTenant into the tenant: refused, and no session of theirs is left live there, even once they are invited back', async () => {
    const person = await adminOfTwoTenants();
    const switched = await duringRemoval(person, () =>
      server.graphql('mutation($t: String!) { switchTenant(tenant: $t) { accessToken } }', { token: person.home.accessToken, variables: { t: owner.tenant.slug } }),
    );
    expect(await liveSessionsIn(person)).toBe(0);
    expectRefusedAsFormerMember(switched.body);
    // Invited back, the home session's refresh token still yields tokens for home, not for here.
    await addMember(server, owner.accessToken, 'VIEWER', person.home.email);
    const refreshed = await refresh(server, person.home.refreshToken);
    expect(refreshed.body.data?.refreshSession.tenant.slug).toBe(person.home.tenant.slug);
  });

  it('logIn to the tenant: refused, and no session of theirs is left live there', async () => {
    const person = await adminOfTwoTenants();
    const loggedIn = await duringRemoval(person, () => logIn(server, { email: person.home.email, password: person.home.password, tenant: owner.tenant.slug }));
    expect(await liveSessionsIn(person)).toBe(0);
    expectRefusedAsFormerMember(loggedIn.body);
  });
});

describe('logIn naming no tenant while its person is removed from their oldest', () => {
  it('passes over the membership the removal ended and signs in to the next one (was: "not a member of any tenant")', async () => {
    // A person whose oldest membership is the owner's tenant (invited there first, as ADMIN, with
    // an invitation of their own pending there), and a member of another tenant since.
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const invited = await server.graphql(INVITE, { token: admin.accessToken, variables: { email: uniqueEmail('pending') } });
    expect(invited.body.errors).toBeUndefined();
    const next = await signUp(server, { tenantName: 'Next' });
    await addMember(server, next.accessToken, 'MEMBER', admin.email, admin.accessToken);
    const [here] = await sql<{ user_id: string; membership_id: string; tenant_id: string }>(
      `select m.user_id, m.id as membership_id, m.tenant_id from memberships m join users u on u.id = m.user_id where u.email = $1 and m.tenant_id = (select id from tenants where slug = $2)`,
      [admin.email, owner.tenant.slug],
    );
    const [invitation] = await sql<{ id: string }>('select id from invitations where invited_by_id = $1 and tenant_id = $2', [here!.user_id, here!.tenant_id]);
    const person = { ...here!, invitationId: invitation!.id } as unknown as Person;
    const loggedIn = await duringRemoval(person, () => logIn(server, { email: admin.email, password: admin.password }));
    expect(loggedIn.body.errors).toBeUndefined();
    expect(loggedIn.body.data.logIn.tenant.slug).toBe(next.tenant.slug);
    expect(await liveSessionsIn(person)).toBe(0);
  });
});

describe('credentials made in a tenant while their person is removed from it', () => {
  it('rotateApiKey of a key someone else made: refused, and no key of theirs is left live', async () => {
    const person = await adminOfTwoTenants();
    const ownersKey = await createApiKey(server, owner.accessToken, { name: 'shared deploy key', scopes: ['READ'] });
    expect(ownersKey.body.errors).toBeUndefined();
    const rotated = await duringRemoval(person, () =>
      server.graphql('mutation($id: ID!) { rotateApiKey(id: $id, gracePeriodSeconds: 3600) { apiKey { id } } }', {
        token: person.admin.accessToken,
        variables: { id: ownersKey.body.data.createApiKey.apiKey.id },
      }),
    );
    expect(await liveKeysBy(person)).toBe(0);
    expectRefusedAsFormerMember(rotated.body);
  });

  it('createApiKey: refused, and no key of theirs is left live', async () => {
    const person = await adminOfTwoTenants();
    const created = await duringRemoval(person, () => createApiKey(server, person.admin.accessToken, { name: 'made while removed', scopes: ['READ'] }));
    expect(await liveKeysBy(person)).toBe(0);
    expectRefusedAsFormerMember(created.body);
  });

  it('inviteMember: refused, and no invitation of theirs is left pending', async () => {
    const person = await adminOfTwoTenants();
    const invited = await duringRemoval(person, () => server.graphql(INVITE, { token: person.admin.accessToken, variables: { email: uniqueEmail('late') } }));
    const pending = await sql('select id from invitations where invited_by_id = $1 and tenant_id = $2 and revoked_at is null', [person.user_id, person.tenant_id]);
    expect(pending).toEqual([]);
    expectRefusedAsFormerMember(invited.body);
  });
});
