/**
 * The migration that repairs sessions older code left live (Migration20261206200000_sessions_repaired):
 * a removed member's session (removal did not end it; written here as it left it: the membership
 * gone, the session live) is ended, so re-admission does not bring its tokens back; a session
 * switchTenant had forked (two unused refresh tokens) is ended; other sessions are untouched.
 * Run by the real migrator, as the first start after an upgrade runs it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addMember, refresh, signUp } from '../support/identity.js';
import { asOwner } from '../support/locks.js';
import { runMigrationAgain } from '../support/migrations.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const sessionOf = (email: string) =>
  asOwner(server, async (client) => (await client.query(`select s.id, s.revoked_reason from sessions s join users u on u.id = s.user_id where u.email = $1`, [email])).rows as { id: string; revoked_reason: string | null }[]);
const viewerRole = async (token: string) => (await server.graphql('{ viewer { role } }', { token })).body;

it('ends a former member’s session and a forked one, and leaves the others alone', async () => {
  const owner = await signUp(server);
  const removed = await addMember(server, owner.accessToken, 'MEMBER');
  const forked = await signUp(server);
  const untouched = await signUp(server);
  // As removal left it before: the membership gone, the session live.
  const membership = await asOwner(server, async (client) =>
    (await client.query(`delete from memberships m using users u where u.id = m.user_id and u.email = $1 returning m.*`, [removed.email])).rows[0],
  );
  // As switchTenant left it before: one more unused refresh token on the same session.
  const [forkedSession] = await sessionOf(forked.email);
  await asOwner(server, (client) =>
    client.query(`insert into refresh_tokens (id, session_id, token_hash, created_at, expires_at) values (gen_random_uuid(), $1, md5('a') || md5('b'), now(), now() + interval '1 day')`, [forkedSession!.id]),
  );

  await runMigrationAgain(server, 'Migration20261206200000_sessions_repaired');

  expect((await sessionOf(removed.email)).map((session) => session.revoked_reason)).toEqual(['membership']);
  expect((await sessionOf(forked.email)).map((session) => session.revoked_reason)).toEqual(['forked']);
  expect((await sessionOf(untouched.email)).map((session) => session.revoked_reason)).toEqual([null]);
  expect((await sessionOf(owner.email)).map((session) => session.revoked_reason)).toEqual([null]);
  // Re-admitted (the membership back as it was): the old tokens stay refused.
  await asOwner(server, (client) =>
    client.query(`insert into memberships select * from jsonb_populate_record(null::memberships, $1::jsonb)`, [JSON.stringify(membership)]),
  );
  expect((await viewerRole(removed.accessToken)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect((await refresh(server, removed.refreshToken)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect((await refresh(server, forked.refreshToken)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  // The others go on.
  expect((await viewerRole(untouched.accessToken)).data).toEqual({ viewer: { role: 'OWNER' } });
  expect((await refresh(server, untouched.refreshToken)).body.data.refreshSession.role).toBe('OWNER');
  expect((await viewerRole(owner.accessToken)).data).toEqual({ viewer: { role: 'OWNER' } });
});
