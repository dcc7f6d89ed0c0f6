/**
 * switchTenant moves a session without forking its refresh chain (attacker review): it used to
 * issue a new refresh token on an access token alone, so a 15-minute access token minted a
 * 30-day chain, and the old and new chains both refreshed forever, two live branches in one
 * session that reuse detection never saw. Now it returns an access token only, expiring with
 * the one presented; the session's one refresh token carries on into the new tenant.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { addMember, codeOf, refresh, signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const SWITCH = 'mutation($t: String!) { switchTenant(tenant: $t) { accessToken expiresAt role tenant { slug } } }';
const VIEWER = '{ viewer { role tenant { slug } } }';

const switchTenant = async (token: string, tenant: string) => {
  const { body } = await server.graphql(SWITCH, { token, variables: { t: tenant } });
  expect(body.errors).toBeUndefined();
  return body.data.switchTenant as { accessToken: string; expiresAt: string; role: string; tenant: { slug: string } };
};

/** The session's refresh tokens not yet used: its live chains. */
const liveRefreshTokens = (sessionId: string) =>
  withClient(server.database.ownerUrl, (client) =>
    client.query('select count(*)::int as n from refresh_tokens where session_id = $1 and used_at is null', [sessionId]),
  ).then((result) => result.rows[0].n as number);

/** A user in two tenants: OWNER of `home`, MEMBER of `away`, signed in to `home`. */
async function userInTwoTenants() {
  const owner = await signUp(server, { tenantName: 'Home' });
  const other = await signUp(server, { tenantName: 'Away' });
  await addMember(server, other.accessToken, 'MEMBER', owner.email);
  return { owner, home: owner.tenant.slug, away: other.tenant.slug, sessionId: decodeJwt(owner.accessToken).sid as string };
}

describe('switchTenant', () => {
  it('hands out no refresh token: an access token alone cannot obtain one', async () => {
    const { owner, away } = await userInTwoTenants();
    const { body } = await server.graphql('mutation($t: String!) { switchTenant(tenant: $t) { refreshToken } }', { token: owner.accessToken, variables: { t: away } });
    expect(body.data ?? null).toBeNull();
    expect(body.errors[0].message).toMatch(/Cannot query field "refreshToken" on type "TenantSwitch"/);
  });

  it('keeps one refresh chain: the session token refreshes into the new tenant, and a fork is reuse', async () => {
    const { owner, home, away, sessionId } = await userInTwoTenants();
    const switched = await switchTenant(owner.accessToken, away);
    expect(switched).toMatchObject({ role: 'MEMBER', tenant: { slug: away } });
    expect(await liveRefreshTokens(sessionId)).toBe(1);

    // The refresh token from log-in carries on, now in the tenant switched to.
    const next = (await refresh(server, owner.refreshToken)).body.data.refreshSession;
    expect(next).toMatchObject({ role: 'MEMBER', tenant: { slug: away } });
    expect(await liveRefreshTokens(sessionId)).toBe(1);
    expect((await server.graphql(VIEWER, { token: next.accessToken })).body.data.viewer).toEqual({ role: 'MEMBER', tenant: { slug: away } });

    // Switching back and forth adds no chain either; presenting a used token ends the session.
    await switchTenant((await switchTenant(next.accessToken, home)).accessToken, away);
    expect(await liveRefreshTokens(sessionId)).toBe(1);
    expect(codeOf((await refresh(server, owner.refreshToken)).body)).toBe('UNAUTHENTICATED');
    expect(codeOf((await refresh(server, next.refreshToken)).body)).toBe('UNAUTHENTICATED');
  });

  it('never extends the presented access token: switching, back and forth or in place, keeps its expiry', async () => {
    const { owner, home, away, sessionId } = await userInTwoTenants();
    // The session's access token, issued 13 minutes ago: 2 minutes left.
    const claims = decodeJwt(owner.accessToken);
    const issuedAt = new Date(Date.now() - (server.config.accessTokenTtlSeconds - 120) * 1000);
    const { token: ageing, expiresAt } = await server.tokens.sign(
      { userId: claims.sub!, email: owner.email, tenantId: databaseIdOf(owner.tenant.id), tenantSlug: home, role: 'OWNER', sessionId },
      issuedAt,
    );

    const there = await switchTenant(ageing, away);
    const back = await switchTenant(there.accessToken, home);
    const inPlace = await switchTenant(back.accessToken, home);
    for (const step of [there, back, inPlace]) {
      expect(new Date(step.expiresAt).getTime()).toBe(expiresAt.getTime());
      expect(decodeJwt(step.accessToken).exp).toBe(expiresAt.getTime() / 1000);
    }
    // In place changes nothing but the token: the same tenant and role.
    expect(inPlace).toMatchObject({ role: 'OWNER', tenant: { slug: home } });
    expect((await server.graphql(VIEWER, { token: inPlace.accessToken })).body.data.viewer).toEqual({ role: 'OWNER', tenant: { slug: home } });
  });
});
