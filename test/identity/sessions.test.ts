/** Sign-up, log-in, refresh, log-out and switching tenant, over real HTTP, failures included. */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { addMember, codeOf, logIn, refresh, signUp, uniqueEmail } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const SIGN_UP = `mutation($input: SignUpInput!) { signUp(input: $input) { role tenant { slug } user { email } } }`;
const VIEWER = '{ viewer { kind role email tenant { slug } } }';

const userRows = (email: string) =>
  withClient(server.database.ownerUrl, (client) => client.query('select id from users where email = $1', [email])).then((r) => r.rowCount);

describe('signUp', () => {
  it('creates a user, a tenant with a slug from its name, and an OWNER membership', async () => {
    const email = uniqueEmail('Ada').replace('ada', 'Ada');
    const { body } = await server.graphql(SIGN_UP, { variables: { input: { email, password: 'a long enough passphrase', tenantName: 'Zürich Analytics!' } } });
    expect(body.data.signUp).toEqual({ role: 'OWNER', tenant: { slug: expect.stringMatching(/^zurich-analytics(-[0-9a-f]{6})?$/) }, user: { email: email.toLowerCase() } });
    const again = await signUp(server, { tenantName: 'Zürich Analytics!' });
    expect(again.tenant.slug).toMatch(/^zurich-analytics-[0-9a-f]{6}$/);
    expect(again.tenant.slug).not.toBe(body.data.signUp.tenant.slug);
  });

  it.each([
    ['a short password', { password: 'short' }, 'BAD_USER_INPUT', /at least 10 characters/],
    ['a password over 256 bytes', { password: 'é'.repeat(129) }, 'BAD_USER_INPUT', /at most 256 bytes/],
    ['a malformed email', { email: 'not-an-email' }, 'BAD_USER_INPUT', /valid email/],
    ['an empty tenant name', { tenantName: '   ' }, 'BAD_USER_INPUT', /tenantName/],
  ])('refuses %s and creates nothing', async (_name, change, code, message) => {
    const input = { email: uniqueEmail(), password: 'a long enough passphrase', tenantName: 'Acme', ...change };
    const { body } = await server.graphql(SIGN_UP, { variables: { input } });
    expect(codeOf(body)).toBe(code);
    expect(body.errors[0]?.message).toMatch(message);
    expect(await userRows(input.email.toLowerCase())).toBe(0);
  });

  it('refuses a second account for the same email (any case) with CONFLICT', async () => {
    const first = await signUp(server);
    const { body } = await server.graphql(SIGN_UP, { variables: { input: { email: first.email.toUpperCase(), password: 'another long passphrase', tenantName: 'Dup' } } });
    expect(codeOf(body)).toBe('CONFLICT');
  });
});

describe('logIn', () => {
  it('issues a 15-minute token naming user, tenant, role and session', async () => {
    const account = await signUp(server);
    const { body } = await logIn(server, { email: account.email, password: account.password });
    const claims = decodeJwt(body.data.logIn.accessToken);
    expect(claims).toMatchObject({ iss: 'sluice', aud: 'sluice-api', email: account.email, tid: databaseIdOf(account.tenant.id), tslug: account.tenant.slug, role: 'OWNER' });
    expect(typeof claims.sid).toBe('string');
    expect(typeof claims.jti).toBe('string');
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(body.data.logIn.refreshToken).toMatch(/^slr_[A-Za-z0-9_-]{43}$/);
  });

  it('answers unknown email and wrong password with the same error', async () => {
    const account = await signUp(server);
    const wrong = await logIn(server, { email: account.email, password: 'not the password at all' });
    const unknown = await logIn(server, { email: uniqueEmail(), password: 'not the password at all' });
    expect(wrong.body.errors[0]).toMatchObject({ message: 'Invalid email or password', extensions: { code: 'UNAUTHENTICATED' } });
    expect(unknown.body.errors[0]).toEqual(wrong.body.errors[0]);
  });

  it('picks a tenant by slug or id, defaults to the oldest, and refuses foreign tenants', async () => {
    const owner = await signUp(server, { tenantName: 'First' });
    const other = await signUp(server, { tenantName: 'Second' });
    const member = await addMember(server, other.accessToken, 'VIEWER', owner.email, owner.accessToken);
    expect(member.tenant.slug).toBe(other.tenant.slug);

    const byDefault = await logIn(server, { email: owner.email, password: owner.password });
    expect(byDefault.body.data.logIn).toMatchObject({ role: 'OWNER', tenant: { slug: owner.tenant.slug } });
    const bySlug = await logIn(server, { email: owner.email, password: owner.password, tenant: other.tenant.slug });
    expect(bySlug.body.data.logIn).toMatchObject({ role: 'VIEWER', tenant: { slug: other.tenant.slug } });
    for (const id of [other.tenant.id, databaseIdOf(other.tenant.id)]) {
      const byId = await logIn(server, { email: owner.email, password: owner.password, tenant: id });
      expect(byId.body.data.logIn.tenant.slug).toBe(other.tenant.slug);
    }

    const stranger = await signUp(server, { tenantName: 'Third' });
    const foreign = await logIn(server, { email: owner.email, password: owner.password, tenant: stranger.tenant.slug });
    expect(codeOf(foreign.body)).toBe('FORBIDDEN');
  });

  it('works over REST for plain HTTP clients', async () => {
    const account = await signUp(server);
    const post = (body: string, method = 'POST') =>
      fetch(`${server.baseUrl}/api/v1/auth/login`, { method, headers: { 'content-type': 'application/json' }, ...(method === 'POST' ? { body } : {}) });
    const ok = await post(JSON.stringify({ email: account.email, password: account.password }));
    expect(ok.status).toBe(200);
    const token = await ok.json();
    expect(token).toMatchObject({ token_type: 'bearer', expires_in: 900, tenant: account.tenant.slug, role: 'OWNER' });
    expect((await server.graphql(VIEWER, { token: token.access_token })).body.data.viewer.email).toBe(account.email);

    const wrong = await post(JSON.stringify({ email: account.email, password: 'wrong password here' }));
    expect([wrong.status, (await wrong.json()).error]).toEqual([401, 'invalid_grant']);
    expect((await post('{"email": ')).status).toBe(400);
    expect((await post('', 'GET')).status).toBe(405);
  });
});

describe('sessions', () => {
  it('rotates refresh tokens, and a reused one ends the whole session', async () => {
    const account = await signUp(server);
    const first = await refresh(server, account.refreshToken);
    const next = first.body.data.refreshSession;
    expect(next.refreshToken).not.toBe(account.refreshToken);
    expect((await server.graphql(VIEWER, { token: next.accessToken })).status).toBe(200);

    const reuse = await refresh(server, account.refreshToken);
    expect(reuse.body.errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringMatching(/reused/) });
    // The thief's copy and the rightful holder's newest tokens all stop working.
    expect(codeOf((await refresh(server, next.refreshToken)).body)).toBe('UNAUTHENTICATED');
    expect((await server.graphql(VIEWER, { token: next.accessToken })).status).toBe(401);
    expect((await server.graphql(VIEWER, { token: account.accessToken })).status).toBe(401);
  });

  it('lets exactly one of ten concurrent refreshes with one token succeed; the rest are reuse and end the session', async () => {
    for (let round = 0; round < 3; round++) {
      const account = await signUp(server);
      const results = await Promise.all(Array.from({ length: 10 }, () => refresh(server, account.refreshToken)));
      const winners = results.filter((result) => result.body.data?.refreshSession);
      expect(winners, `round ${round}`).toHaveLength(1);
      const losers = results.filter((result) => !result.body.data?.refreshSession);
      expect(losers.map((result) => result.body.errors[0])).toEqual(
        Array(9).fill(expect.objectContaining({ message: expect.stringMatching(/reused/), extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })),
      );
      // Reuse ends the family: the winner's new tokens stop working too, so no branch lives on.
      const won = winners[0]!.body.data.refreshSession;
      expect(codeOf((await refresh(server, won.refreshToken)).body)).toBe('UNAUTHENTICATED');
      expect((await server.graphql(VIEWER, { token: won.accessToken })).status).toBe(401);
      // Each loser is recorded as reuse in the tenant's trail, for its ADMINs to see.
      const again = (await logIn(server, { email: account.email, password: account.password })).body.data.logIn.accessToken;
      const reuses = await auditEventsOf(server, again, 9, { action: 'auth.refresh_reuse' });
      expect(reuses.map((event) => [event.actorKind, event.details.reason])).toEqual(Array(9).fill(['user', 'reuse']));
    }
  });

  it('refuses garbage refresh tokens', async () => {
    for (const token of ['', 'slr_short', `slr_${'A'.repeat(43)}`, 'eyJhbGciOiJIUzI1NiJ9.e30.x']) {
      expect(codeOf((await refresh(server, token)).body)).toBe('UNAUTHENTICATED');
    }
  });

  it('logOut ends the session: access and refresh tokens stop working', async () => {
    const account = await signUp(server);
    expect((await server.graphql('mutation { logOut }', { token: account.accessToken })).body.data).toEqual({ logOut: true });
    expect((await server.graphql(VIEWER, { token: account.accessToken })).status).toBe(401);
    expect(codeOf((await refresh(server, account.refreshToken)).body)).toBe('UNAUTHENTICATED');
  });

  it('switchTenant moves the session; the old tenant token stops working', async () => {
    const owner = await signUp(server, { tenantName: 'Home' });
    const other = await signUp(server, { tenantName: 'Away' });
    await addMember(server, other.accessToken, 'MEMBER', owner.email);
    const switched = await server.graphql(`mutation($t: String!) { switchTenant(tenant: $t) { accessToken role tenant { slug } } }`, {
      token: owner.accessToken,
      variables: { t: other.tenant.slug },
    });
    expect(switched.body.data.switchTenant).toMatchObject({ role: 'MEMBER', tenant: { slug: other.tenant.slug } });
    const viewer = await server.graphql(VIEWER, { token: switched.body.data.switchTenant.accessToken });
    expect(viewer.body.data.viewer).toMatchObject({ role: 'MEMBER', tenant: { slug: other.tenant.slug } });
    expect((await server.graphql(VIEWER, { token: owner.accessToken })).status).toBe(401);

    const stranger = await signUp(server);
    const refused = await server.graphql(`mutation($t: String!) { switchTenant(tenant: $t) { role } }`, {
      token: switched.body.data.switchTenant.accessToken,
      variables: { t: stranger.tenant.slug },
    });
    expect(codeOf(refused.body)).toBe('FORBIDDEN');
  });

  it('applies a role change to existing tokens at once, and refuses tampered tokens', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner.accessToken, 'ADMIN');
    await withClient(server.database.ownerUrl, (client) =>
      client.query(`update memberships m set role = 'VIEWER' from users u where u.id = m.user_id and u.email = $1`, [member.email]),
    );
    expect((await server.graphql(VIEWER, { token: member.accessToken })).body.data.viewer.role).toBe('VIEWER');

    const [header, payload, signature] = owner.accessToken.split('.');
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(owner.accessToken), role: 'OWNER', email: 'evil@example.test' })).toString('base64url');
    expect(payload).not.toBe(forged);
    expect((await server.graphql(VIEWER, { token: `${header}.${forged}.${signature}` })).status).toBe(401);
  });

  it('never logs a password or token', async () => {
    const account = await signUp(server, { password: 'very secret passphrase 123' });
    await logIn(server, { email: account.email, password: 'very secret passphrase 123' });
    const logs = JSON.stringify(server.logs);
    for (const secret of ['very secret passphrase 123', account.accessToken, account.refreshToken]) expect(logs).not.toContain(secret);
  });
});
