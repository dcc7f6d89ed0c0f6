/**
 * Accepting an invitation while signed in moves the caller's session into the invitation's
 * tenant (as switchTenant does) instead of opening a second one (reviewer, LOW). It used to
 * open a new session, the client swapped to its tokens, and the first one stayed alive with a
 * refresh token nobody would ever end: after logOut (which ended the new session) the sign-up's
 * access token still answered and its refresh token still refreshed.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { codeOf, refresh, signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const INVITE = 'mutation($email: String!, $role: Role!) { inviteMember(email: $email, role: $role) { token } }';
const ACCEPT = 'mutation($token: String!) { acceptInvitation(token: $token) { accessToken refreshToken role tenant { slug } } }';
const VIEWER = '{ viewer { email role tenant { slug } } }';

/** The user's sessions not ended, and the unused refresh tokens among them: its live chains. */
const liveOf = (email: string) =>
  withClient(server.database.ownerUrl, (client) =>
    client.query(
      `select count(distinct s.id)::int as sessions, count(r.id) filter (where r.used_at is null)::int as chains
         from sessions s join users u on u.id = s.user_id left join refresh_tokens r on r.session_id = s.id
        where u.email = $1 and s.revoked_at is null`,
      [email],
    ),
  ).then((result) => result.rows[0] as { sessions: number; chains: number });

/** Someone signed up (their own tenant) who then accepts, signed in, an invitation to another. */
async function signedInAcceptance() {
  const person = await signUp(server, { tenantName: 'Mine' });
  const host = await signUp(server, { tenantName: 'Host' });
  const invited = await server.graphql(INVITE, { token: host.accessToken, variables: { email: person.email, role: 'MEMBER' } });
  expect(invited.body.errors).toBeUndefined();
  const accepted = await server.graphql(ACCEPT, { token: person.accessToken, variables: { token: invited.body.data.inviteMember.token } });
  expect(accepted.body.errors).toBeUndefined();
  return { person, host, accepted: accepted.body.data.acceptInvitation as { accessToken: string; refreshToken: string; role: string; tenant: { slug: string } } };
}

describe('acceptInvitation while signed in', () => {
  it('leaves no session behind: after logOut the pre-accept access and refresh tokens are refused', async () => {
    const { person, host, accepted } = await signedInAcceptance();
    expect(accepted).toMatchObject({ role: 'MEMBER', tenant: { slug: host.tenant.slug } });
    expect((await server.graphql('mutation { logOut }', { token: accepted.accessToken })).body.data).toEqual({ logOut: true });
    expect(await liveOf(person.email)).toEqual({ sessions: 0, chains: 0 });
    const before = await refresh(server, person.refreshToken);
    expect(codeOf(before.body)).toBe('UNAUTHENTICATED');
    expect(before.body.data ?? null).toBeNull();
    const viewer = await server.graphql(VIEWER, { token: person.accessToken });
    expect([viewer.status, codeOf(viewer.body)]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await server.graphql(VIEWER, { token: accepted.accessToken })).status).toBe(401);
    expect(codeOf((await refresh(server, accepted.refreshToken)).body)).toBe('UNAUTHENTICATED');
  });

  it('rotates the chain rather than forking it: the new refresh token carries on, the old one is reuse', async () => {
    const { person, host, accepted } = await signedInAcceptance();
    // The same session, now in the host tenant: one session, one live chain.
    expect(decodeJwt(accepted.accessToken).sid).toBe(decodeJwt(person.accessToken).sid);
    expect(await liveOf(person.email)).toEqual({ sessions: 1, chains: 1 });
    const next = (await refresh(server, accepted.refreshToken)).body.data.refreshSession;
    expect(next).toMatchObject({ role: 'MEMBER', tenant: { slug: host.tenant.slug } });
    expect((await server.graphql(VIEWER, { token: next.accessToken })).body.data.viewer).toEqual({ email: person.email, role: 'MEMBER', tenant: { slug: host.tenant.slug } });
    // The sign-up's refresh token was used up by the move: presenting it is a copy, and ends the session.
    expect(codeOf((await refresh(server, person.refreshToken)).body)).toBe('UNAUTHENTICATED');
    expect((await server.graphql(VIEWER, { token: next.accessToken })).status).toBe(401);
    expect(await liveOf(person.email)).toEqual({ sessions: 0, chains: 0 });
  });
});
