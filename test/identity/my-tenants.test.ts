/** `viewer.tenants`: a signed-in user's own memberships, for switching tenant; refused to programs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, codeOf, createApiKey, signUp, uniqueEmail } from '../support/identity.js';
import { withClient } from '../../src/db/bootstrap.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const MY_TENANTS = '{ viewer { kind tenants { tenantId slug name role current } } }';

describe('viewer.tenants', () => {
  it('lists each tenant of a user with their role there, the current one marked, and nothing of anyone else', async () => {
    const email = uniqueEmail('two-tenants');
    const mine = await signUp(server, { email, tenantName: 'Alder Mill' });
    const other = await signUp(server, { tenantName: 'Birch Yard' });
    const stranger = await signUp(server, { tenantName: 'Cedar Dock' });
    await addMember(server, other.accessToken, 'ADMIN', email);
    // The other tenant's owner has members of their own (this user), and the stranger's tenant exists: neither leaks in.
    await addMember(server, stranger.accessToken, 'VIEWER');

    const { body } = await server.graphql(MY_TENANTS, { token: mine.accessToken });
    expect(body.errors).toBeUndefined();
    expect(body.data.viewer).toEqual({
      kind: 'USER',
      tenants: [
        { tenantId: mine.tenant.id, slug: mine.tenant.slug, name: 'Alder Mill', role: 'OWNER', current: true },
        { tenantId: other.tenant.id, slug: other.tenant.slug, name: 'Birch Yard', role: 'ADMIN', current: false },
      ],
    });

    // The owner of Birch Yard sees their own tenant only, not the tenants of their members.
    const theirs = await server.graphql(MY_TENANTS, { token: other.accessToken });
    expect(theirs.body.data.viewer.tenants).toEqual([{ tenantId: other.tenant.id, slug: other.tenant.slug, name: 'Birch Yard', role: 'OWNER', current: true }]);

    // After switching, the mark follows the session.
    const switched = await server.graphql(`mutation($t: String!) { switchTenant(tenant: $t) { accessToken } }`, {
      token: mine.accessToken,
      variables: { t: other.tenant.slug },
    });
    const after = await server.graphql(MY_TENANTS, { token: switched.body.data.switchTenant.accessToken });
    expect(after.body.data.viewer.tenants.map((t: { slug: string; current: boolean }) => [t.slug, t.current])).toEqual([
      [mine.tenant.slug, false],
      [other.tenant.slug, true],
    ]);
  });

  it('refuses an API key (it belongs to one tenant) and an anonymous caller, and the rest of viewer still answers', async () => {
    const owner = await signUp(server, { tenantName: 'Dune Works' });
    const { secret } = (await createApiKey(server, owner.accessToken, { name: 'reader', scopes: ['READ'] })).body.data.createApiKey;
    const asKey = await server.graphql(MY_TENANTS, { token: secret });
    expect(codeOf(asKey.body)).toBe('FORBIDDEN');
    expect(asKey.body.errors[0].extensions.reason).toBe('NOT_A_USER');
    expect(asKey.body.errors[0].path).toEqual(['viewer', 'tenants']);
    expect(asKey.body.data.viewer).toEqual({ kind: 'API_KEY', tenants: null });

    const anonymous = await server.graphql(MY_TENANTS);
    expect(codeOf(anonymous.body)).toBe('UNAUTHENTICATED');
    expect(anonymous.body.data.viewer).toEqual({ kind: 'ANONYMOUS', tenants: null });
  });
});

describe('user_memberships (the function behind viewer.tenants)', () => {
  it('answers, as the app role, only for the user the transaction names: another user id reads nothing', async () => {
    const mine = await signUp(server, { tenantName: 'Dune Wharf' });
    const other = await signUp(server, { tenantName: 'Elm Quay' });
    const userIdOf = (email: string) =>
      withClient(server.database.ownerUrl, async (client) => (await client.query<{ id: string }>('select id from users where email = $1', [email])).rows[0]!.id);
    const [me, them] = [await userIdOf(mine.email), await userIdOf(other.email)];
    const slugsAs = (sessionUser: string, asked: string) =>
      withClient(server.database.appUrl, async (client) => {
        await client.query('begin');
        await client.query(`select set_config('app.user_id', $1, true)`, [sessionUser]);
        const { rows } = await client.query<{ slug: string }>('select slug from user_memberships($1)', [asked]);
        await client.query('rollback');
        return rows.map((row) => row.slug);
      });
    expect(await slugsAs(me, me)).toEqual([mine.tenant.slug]);
    expect(await slugsAs(me, them)).toEqual([]);
  });
});
