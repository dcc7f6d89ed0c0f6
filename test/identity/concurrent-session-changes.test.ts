/**
 * Changes to one session, one invitation or one API key sent at the same moment serialise:
 * one wins, the other gets a clear error, nothing forks (fix-sessions brief).
 *
 * - A signed-in acceptInvitation (which moves the session and rotates its refresh chain) racing
 *   a refreshSession of the same session used to fork it: the refresh's successor token was
 *   inserted while the move used up the tokens it could see, so two unused refresh tokens lived
 *   on; or, the move winning, the refresh found its token spent and ended the whole session as
 *   reuse.
 * - Two signed-out acceptances creating the same new account (one invitation sent twice, or two
 *   tenants' invitations) collided on the users' unique email: an INTERNAL error.
 * - Two rotateApiKey calls on one key both issued a successor: two live keys for one.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { hashToken } from '../../src/platform/secrets/opaque-tokens.js';
import { codeOf, createApiKey, refresh, signUp, tenantIdOf, uniqueEmail } from '../support/identity.js';
import { asOwner, untilLockWaiters } from '../support/locks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

// Rounds of requests sent at once: each round signs people up (a password hash each), so a
// round costs seconds on a busy machine; the rounds get a time limit to match.
const ROUNDS = 4;
const ROUNDS_TIMEOUT = { timeout: 180_000 };
const INVITE = 'mutation($email: String!, $role: Role!) { inviteMember(email: $email, role: $role) { token } }';
const ACCEPT =
  'mutation($token: String!, $password: String) { acceptInvitation(token: $token, password: $password) { accessToken refreshToken tenant { slug } } }';

const sql = (text: string, params: unknown[]) => withClient(server.database.ownerUrl, (client) => client.query(text, params)).then((result) => result.rows);

async function invite(hostToken: string, email: string): Promise<string> {
  const { body } = await server.graphql(INVITE, { token: hostToken, variables: { email, role: 'MEMBER' } });
  expect(body.errors).toBeUndefined();
  return body.data.inviteMember.token;
}

/** Every error code in these answers: none may be INTERNAL (a 500 in GraphQL's clothes). */
const codesOf = (...bodies: { errors?: { extensions?: Record<string, any> }[] }[]) => bodies.flatMap((body) => (body.errors ?? []).map((error) => error.extensions?.code));

/** A person signed in to their own tenant, invited (MEMBER) to a host's. */
async function invitedWhileSignedIn() {
  const person = await signUp(server, { tenantName: 'Mine' });
  const host = await signUp(server, { tenantName: 'Host' });
  const token = await invite(host.accessToken, person.email);
  return { person, host, token, sessionId: decodeJwt(person.accessToken).sid as string };
}

/** The session is live in the host's tenant, and the one refresh token the move returned is its only unused one, and works. */
async function expectOneChainIn(sessionId: string, host: { tenant: { slug: string; id: string } }, moved: { refreshToken: string }, what: string) {
  const [session] = await sql('select revoked_at, active_tenant_id from sessions where id = $1', [sessionId]);
  expect(session, what).toEqual({ revoked_at: null, active_tenant_id: tenantIdOf(host) });
  const unused = await sql('select token_hash from refresh_tokens where session_id = $1 and used_at is null', [sessionId]);
  expect(unused.map((row) => row.token_hash), what).toEqual([hashToken(moved.refreshToken)]);
  const next = await refresh(server, moved.refreshToken);
  expect(next.body.data?.refreshSession.tenant.slug, what).toBe(host.tenant.slug);
}

describe('a signed-in acceptInvitation and a refreshSession of the same session at once', () => {
  // Both held at the refresh token's row (the one thing both write, before and after the fix)
  // until both wait, then let go: whichever asked first goes first.
  async function race(first: 'refresh' | 'accept') {
    const { person, host, token, sessionId } = await invitedWhileSignedIn();
    const send = {
      refresh: () => refresh(server, person.refreshToken),
      accept: () => server.graphql(ACCEPT, { token: person.accessToken, variables: { token } }),
    };
    const answers = await asOwner(server, async (holder) => {
      await holder.query('begin');
      await holder.query('select 1 from refresh_tokens where token_hash = $1 for update', [hashToken(person.refreshToken)]);
      const one = send[first]();
      await untilLockWaiters(server, {}, 1, `${first} statements`);
      const other = send[first === 'refresh' ? 'accept' : 'refresh']();
      await untilLockWaiters(server, {}, 2, 'statements of both');
      await holder.query('rollback');
      return first === 'refresh' ? { refreshed: await one, accepted: await other } : { accepted: await one, refreshed: await other };
    });
    return { ...answers, person, host, sessionId };
  }

  it('the refresh first: both answer, and the move then rotates the chain the refresh had extended', async () => {
    const { refreshed, accepted, person, host, sessionId } = await race('refresh');
    expect(refreshed.body.data.refreshSession.tenant.slug).toBe(person.tenant.slug);
    expect(accepted.body.errors).toBeUndefined();
    // Before: the refresh's successor escaped the move's rotation, two unused tokens (a fork).
    await expectOneChainIn(sessionId, host, accepted.body.data.acceptInvitation, 'refresh first');
  });

  it('the move first: the refresh is CONFLICT `session-changed` and the session carries on', async () => {
    const { refreshed, accepted, host, sessionId } = await race('accept');
    expect(accepted.body.errors).toBeUndefined();
    // Before: the refresh took its spent token for a stolen copy and ended the session (reuse).
    expect(refreshed.body.errors[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'session-changed' });
    await expectOneChainIn(sessionId, host, accepted.body.data.acceptInvitation, 'move first');
  });

  it('never fork the chain: the move lands, one refresh token lives, a losing refresh is CONFLICT (or reuse, if it read its token after the move)', ROUNDS_TIMEOUT, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { person, host, token, sessionId } = await invitedWhileSignedIn();
      const [accepted, refreshed] = await Promise.all([
        server.graphql(ACCEPT, { token: person.accessToken, variables: { token } }),
        refresh(server, person.refreshToken),
      ]);
      expect(codesOf(accepted.body, refreshed.body), `round ${round}`).not.toContain('INTERNAL');
      // The move does not depend on the refresh token: it always lands, before or after the refresh.
      expect(accepted.body.errors, `round ${round}`).toBeUndefined();
      const moved = accepted.body.data.acceptInvitation;
      expect(moved.tenant.slug).toBe(host.tenant.slug);
      if (refreshed.body.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED') {
        // The refresh read its token only after the move had committed and spent it: that is
        // reuse, as for any spent token (docs/identity.md), and the session is ended, not forked.
        const [session] = await sql('select revoked_reason from sessions where id = $1', [sessionId]);
        expect(session.revoked_reason, `round ${round}`).toBe('reuse');
        continue;
      }
      if (refreshed.body.errors) {
        // The move came first and spent the token the refresh presented while it waited: refused, the session kept.
        expect(refreshed.body.errors[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'session-changed' });
      } else {
        // The refresh came first, in the tenant the session was then in; the move followed.
        expect(refreshed.body.data.refreshSession.tenant.slug).toBe(person.tenant.slug);
      }
      await expectOneChainIn(sessionId, host, moved, `round ${round}`);
    }
  });
});

describe('signed-out acceptances that create the same account at once', () => {
  it('accept one invitation once: the other request is CONFLICT `used`, one account, one membership', ROUNDS_TIMEOUT, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const host = await signUp(server, { tenantName: 'Host' });
      const email = uniqueEmail('twice');
      const token = await invite(host.accessToken, email);
      const answers = await Promise.all([0, 1].map(() => server.graphql(ACCEPT, { variables: { token, password: 'a long enough passphrase' } })));
      expect(codesOf(...answers.map((answer) => answer.body)), `round ${round}`).not.toContain('INTERNAL');
      const won = answers.filter((answer) => !answer.body.errors);
      expect(won, `round ${round}`).toHaveLength(1);
      const lost = answers.find((answer) => answer.body.errors)!;
      expect(lost.body.errors[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'used' });
      const rows = await sql('select count(distinct u.id)::int as users, count(m.id)::int as memberships from users u left join memberships m on m.user_id = u.id where u.email = $1', [email]);
      expect(rows[0], `round ${round}`).toEqual({ users: 1, memberships: 1 });
    }
  });

  it("refuse the second account with CONFLICT and leave the loser's invitation usable", ROUNDS_TIMEOUT, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [first, second] = await Promise.all([signUp(server, { tenantName: 'One' }), signUp(server, { tenantName: 'Two' })]);
      const email = uniqueEmail('two-doors');
      const tokens = [await invite(first.accessToken, email), await invite(second.accessToken, email)];
      const answers = await Promise.all(tokens.map((token) => server.graphql(ACCEPT, { variables: { token, password: 'a long enough passphrase' } })));
      expect(codesOf(...answers.map((answer) => answer.body)), `round ${round}`).not.toContain('INTERNAL');
      const losers = tokens.filter((_token, i) => answers[i]!.body.errors);
      // Usually one request creates the account and the other, finding it, signs in with it.
      for (const token of losers) {
        const refused = answers[tokens.indexOf(token)]!.body.errors[0];
        expect(refused.extensions).toMatchObject({ code: 'CONFLICT', field: 'email' });
        // Its invitation was not spent: accepted again, it signs in to the account the other made.
        const again = await server.graphql(ACCEPT, { variables: { token, password: 'a long enough passphrase' } });
        expect(again.body.errors, `round ${round}`).toBeUndefined();
      }
      const rows = await sql('select count(distinct u.id)::int as users, count(m.id)::int as memberships from users u left join memberships m on m.user_id = u.id where u.email = $1', [email]);
      expect(rows[0], `round ${round}`).toEqual({ users: 1, memberships: 2 });
    }
  });
});

describe('rotateApiKey twice at once', () => {
  const ROTATE = 'mutation($id: ID!) { rotateApiKey(id: $id, gracePeriodSeconds: 3600) { secret apiKey { id } } }';

  it('issues one successor: the other rotation is refused as already rotated', ROUNDS_TIMEOUT, async () => {
    const owner = await signUp(server, { tenantName: 'Keys' });
    for (let round = 0; round < ROUNDS; round++) {
      const created = await createApiKey(server, owner.accessToken, { name: `rotating-${round}`, scopes: ['READ'] });
      const { apiKey } = created.body.data.createApiKey;
      const answers = await Promise.all([0, 1].map(() => server.graphql(ROTATE, { token: owner.accessToken, variables: { id: apiKey.id } })));
      expect(codesOf(...answers.map((answer) => answer.body)), `round ${round}`).not.toContain('INTERNAL');
      const won = answers.filter((answer) => !answer.body.errors);
      expect(won, `round ${round}`).toHaveLength(1);
      expect(answers.find((answer) => answer.body.errors)!.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'rotated' });
      const keys = await sql('select id, replaced_by_id from api_keys where tenant_id = $1 and name = $2 order by created_at', [tenantIdOf(owner), `rotating-${round}`]);
      const successorId = databaseIdOf(won[0]!.body.data.rotateApiKey.apiKey.id);
      expect(keys, `round ${round}`).toEqual([
        { id: databaseIdOf(apiKey.id), replaced_by_id: successorId },
        { id: successorId, replaced_by_id: null },
      ]);
    }
  });
});

describe('other changes to one session at once', () => {
  const SWITCH = 'mutation($t: String!) { switchTenant(tenant: $t) { accessToken tenant { slug } } }';

  it('switchTenant, refreshSession and logOut serialise: no INTERNAL, no answer for a session that had already ended', ROUNDS_TIMEOUT, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const away = await signUp(server, { tenantName: 'Away' });
      const person = await signUp(server, { tenantName: 'Home' });
      const token = await invite(away.accessToken, person.email);
      expect((await server.graphql(ACCEPT, { variables: { token, password: person.password } })).body.errors).toBeUndefined();
      const sessionId = decodeJwt(person.accessToken).sid as string;
      const [switched, refreshed, loggedOut] = await Promise.all([
        server.graphql(SWITCH, { token: person.accessToken, variables: { t: away.tenant.slug } }),
        refresh(server, person.refreshToken),
        server.graphql('mutation { logOut }', { token: person.accessToken }),
      ]);
      expect(codesOf(switched.body, refreshed.body, loggedOut.body), `round ${round}`).not.toContain('INTERNAL');
      const [session] = await sql('select revoked_at, revoked_reason from sessions where id = $1', [sessionId]);
      // The access token was checked when each request began; logOut may still find it ended by
      // then (UNAUTHENTICATED) only if something else ended it, and nothing else here does.
      expect(loggedOut.body.data, `round ${round}`).toEqual({ logOut: true });
      expect(session.revoked_reason).toBe('logout');
      // Whatever ran after logOut saw the session ended; whatever ran before answered for a session
      // that logOut then ended. Either way nothing of it lives on.
      for (const answer of [switched, refreshed]) {
        if (answer.body.errors) expect(answer.body.errors[0].extensions.code, `round ${round}`).toBe('UNAUTHENTICATED');
      }
      const live = await sql('select count(*)::int as n from refresh_tokens r join sessions s on s.id = r.session_id where s.id = $1 and r.used_at is null and s.revoked_at is null', [sessionId]);
      expect(live[0].n).toBe(0);
    }
  });
});
