/** API keys over real HTTP: creation, use, scopes, expiry, rotation, revocation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { addMember, codeOf, createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
let owner: SignedUp;
beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server, { tenantName: 'Keys' });
});
afterAll(() => server?.close());

const VIEWER = '{ viewer { kind role scopes apiKey { name } tenant { slug } } }';
const asKey = (secret: string, query = VIEWER, variables?: Record<string, unknown>) =>
  server.graphql(query, { headers: { 'x-api-key': secret }, variables });
const dbKey = (id: string) =>
  withClient(server.database.ownerUrl, (client) => client.query('select * from api_keys where id = $1', [databaseIdOf(id)])).then((r) => r.rows[0]);
const ownerSql = (sql: string, params: unknown[]) => withClient(server.database.ownerUrl, (client) => client.query(sql, params));

describe('creating keys', () => {
  it('shows the secret once and stores only its hash', async () => {
    const { body } = await createApiKey(server, owner.accessToken, { name: 'ci', scopes: ['READ', 'WRITE'] });
    const { secret, apiKey } = body.data.createApiKey;
    expect(secret).toMatch(/^slk_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({ name: 'ci', prefix: secret.slice(0, 12), scopes: ['READ', 'WRITE'] });
    const days = (Date.parse(apiKey.expiresAt) - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(90);

    const row = await dbKey(apiKey.id);
    expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(secret.slice(12));
    const listing = await server.graphql('{ viewer { tenant { apiKeys { edges { node { name prefix } } } } } }', { token: owner.accessToken });
    expect(listing.body.data.viewer.tenant.apiKeys.edges).toContainEqual({ node: { name: 'ci', prefix: apiKey.prefix } });
    expect(JSON.stringify(listing.body)).not.toContain(secret);
  });

  it('lets only an OWNER create a key that never expires', async () => {
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const never = await createApiKey(server, owner.accessToken, { name: 'forever', scopes: ['READ'], expiresAt: null });
    expect(never.body.data.createApiKey.apiKey.expiresAt).toBeNull();
    const refused = await createApiKey(server, admin.accessToken, { name: 'forever', scopes: ['READ'], expiresAt: null });
    expect(codeOf(refused.body)).toBe('FORBIDDEN');
    const past = await createApiKey(server, owner.accessToken, { name: 'past', scopes: ['READ'], expiresAt: '2000-01-01T00:00:00Z' });
    expect(codeOf(past.body)).toBe('BAD_USER_INPUT');
  });

  it("refuses a non-OWNER a key outliving the tenant's default lifetime: year 9999 is never by another name", async () => {
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const adminKey = (await createApiKey(server, owner.accessToken, { name: 'admin', scopes: ['READ', 'WRITE', 'ADMIN'] })).body.data.createApiKey.secret;
    const farOff = { name: 'forever', scopes: ['READ'], expiresAt: '9999-12-31T23:59:59Z' };
    const input = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }';
    for (const refused of [(await createApiKey(server, admin.accessToken, farOff)).body, (await asKey(adminKey, input, { input: farOff })).body]) {
      expect(refused.data?.createApiKey ?? null).toBeNull();
      expect(refused.errors[0]).toMatchObject({
        message: expect.stringContaining('at most 90 days'),
        extensions: { code: 'BAD_USER_INPUT', field: 'expiresAt', maxDays: 90 },
      });
    }
    const justOver = new Date(Date.now() + 91 * 86_400_000).toISOString();
    expect(codeOf((await createApiKey(server, admin.accessToken, { ...farOff, expiresAt: justOver })).body)).toBe('BAD_USER_INPUT');
    const within = new Date(Date.now() + 89 * 86_400_000).toISOString();
    expect((await createApiKey(server, admin.accessToken, { ...farOff, expiresAt: within })).body.data.createApiKey.apiKey.expiresAt).toBe(within);
    const byOwner = await createApiKey(server, owner.accessToken, farOff);
    expect(byOwner.body.data.createApiKey.apiKey.expiresAt).toBe('9999-12-31T23:59:59.000Z');
  });

  it('is refused to MEMBER and VIEWER users, and to keys without the admin scope', async () => {
    for (const role of ['MEMBER', 'VIEWER']) {
      const member = await addMember(server, owner.accessToken, role);
      expect(codeOf((await createApiKey(server, member.accessToken, { name: 'x', scopes: ['READ'] })).body)).toBe('FORBIDDEN');
    }
    const writer = (await createApiKey(server, owner.accessToken, { name: 'writer', scopes: ['WRITE'] })).body.data.createApiKey.secret;
    const byWriter = await asKey(writer, 'mutation { createApiKey(input: { name: "x", scopes: [READ] }) { secret } }');
    expect(codeOf(byWriter.body)).toBe('FORBIDDEN');
    const admin = (await createApiKey(server, owner.accessToken, { name: 'admin', scopes: ['ADMIN'] })).body.data.createApiKey.secret;
    const byAdmin = await asKey(admin, 'mutation { createApiKey(input: { name: "child", scopes: [ADMIN] }) { apiKey { scopes } } }');
    expect(byAdmin.body.data.createApiKey.apiKey.scopes).toEqual(['ADMIN']);
    const beyond = await asKey(admin, 'mutation { createApiKey(input: { name: "child", scopes: [READ] }) { apiKey { scopes } } }');
    expect(codeOf(beyond.body)).toBe('FORBIDDEN');
  });
});

describe('using keys', () => {
  it('authenticates as Bearer or X-API-Key, in its tenant, with its scopes', async () => {
    const { secret } = (await createApiKey(server, owner.accessToken, { name: 'reader', scopes: ['READ'] })).body.data.createApiKey;
    const expected = { kind: 'API_KEY', role: 'VIEWER', scopes: ['READ'], apiKey: { name: 'reader' }, tenant: { slug: owner.tenant.slug } };
    expect((await asKey(secret)).body.data.viewer).toEqual(expected);
    expect((await server.graphql(VIEWER, { token: secret })).body.data.viewer).toEqual(expected);
    const both = await server.graphql(VIEWER, { token: owner.accessToken, headers: { 'x-api-key': secret } });
    expect(both.status).toBe(401);
    const readOnly = await asKey(secret, 'mutation { inviteMember(email: "x@example.test", role: VIEWER) { token } }');
    expect(codeOf(readOnly.body)).toBe('FORBIDDEN');
  });

  it('notes when a key was last used', async () => {
    const { secret, apiKey } = (await createApiKey(server, owner.accessToken, { name: 'used', scopes: ['READ'] })).body.data.createApiKey;
    expect((await dbKey(apiKey.id)).last_used_at).toBeNull();
    await asKey(secret);
    expect((await dbKey(apiKey.id)).last_used_at).toBeInstanceOf(Date);
  });

  it.each([
    ['an unknown key', `slk_${'A'.repeat(43)}`, /Invalid API key/],
    ['a malformed key', 'slk_tooshort', /Invalid API key/],
  ])('refuses %s with 401', async (_name, secret, message) => {
    const { status, body } = await asKey(secret);
    expect(status).toBe(401);
    expect(body.errors[0]?.message).toMatch(message);
  });

  it('refuses revoked and expired keys with 401 saying why', async () => {
    const revoked = (await createApiKey(server, owner.accessToken, { name: 'revoked', scopes: ['READ'] })).body.data.createApiKey;
    const revoke = await server.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { token: owner.accessToken, variables: { id: revoked.apiKey.id } });
    expect(revoke.body.data.revokeApiKey.revokedAt).toBeTruthy();
    const afterRevoke = await asKey(revoked.secret);
    expect([afterRevoke.status, afterRevoke.body.errors[0]?.message]).toEqual([401, 'API key revoked']);

    const expired = (await createApiKey(server, owner.accessToken, { name: 'expired', scopes: ['READ'] })).body.data.createApiKey;
    await ownerSql(`update api_keys set expires_at = now() - interval '1 second' where id = $1`, [databaseIdOf(expired.apiKey.id)]);
    const afterExpiry = await asKey(expired.secret);
    expect([afterExpiry.status, afterExpiry.body.errors[0]?.message]).toEqual([401, 'API key expired']);
  });
});

describe('rotation', () => {
  const ROTATE = 'mutation($id: ID!, $grace: Int!) { rotateApiKey(id: $id, gracePeriodSeconds: $grace) { secret apiKey { id name scopes } } }';

  it('keeps the old key working through the grace period, then only the successor', async () => {
    const old = (await createApiKey(server, owner.accessToken, { name: 'rotating', scopes: ['READ', 'WRITE'] })).body.data.createApiKey;
    const rotated = await server.graphql(ROTATE, { token: owner.accessToken, variables: { id: old.apiKey.id, grace: 3600 } });
    const successor = rotated.body.data.rotateApiKey;
    expect(successor.apiKey).toMatchObject({ name: 'rotating', scopes: ['READ', 'WRITE'] });
    expect(successor.secret).not.toBe(old.secret);
    expect((await asKey(old.secret)).status).toBe(200);
    expect((await asKey(successor.secret)).status).toBe(200);
    expect((await dbKey(old.apiKey.id)).replaced_by_id).toBe(databaseIdOf(successor.apiKey.id));

    // The grace period ends.
    await ownerSql(`update api_keys set expires_at = now() - interval '1 second' where id = $1`, [databaseIdOf(old.apiKey.id)]);
    expect((await asKey(old.secret)).status).toBe(401);
    expect((await asKey(successor.secret)).status).toBe(200);

    const twice = await server.graphql(ROTATE, { token: owner.accessToken, variables: { id: old.apiKey.id, grace: 0 } });
    expect(codeOf(twice.body)).toBe('BAD_USER_INPUT');
  });

  it('with no grace period stops the old key at once', async () => {
    const old = (await createApiKey(server, owner.accessToken, { name: 'now', scopes: ['READ'] })).body.data.createApiKey;
    await server.graphql(ROTATE, { token: owner.accessToken, variables: { id: old.apiKey.id, grace: 0 } });
    expect((await asKey(old.secret)).status).toBe(401);
    const tooLong = await server.graphql(ROTATE, { token: owner.accessToken, variables: { id: old.apiKey.id, grace: 10 ** 9 } });
    expect(codeOf(tooLong.body)).toBe('BAD_USER_INPUT');
  });
});

describe('rotation follows the rules of creation', () => {
  const ROTATE = 'mutation($id: ID!) { rotateApiKey(id: $id, gracePeriodSeconds: 0) { secret apiKey { id scopes expiresAt } } }';
  const rotateAs = (credential: { token?: string; key?: string }, id: string) =>
    server.graphql(ROTATE, { token: credential.token, headers: credential.key ? { 'x-api-key': credential.key } : {}, variables: { id } });

  it("refuses an ADMIN a never-expiring successor of the OWNER's never-expiring key, as createApiKey would", async () => {
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const forever = (await createApiKey(server, owner.accessToken, { name: 'forever', scopes: ['READ'], expiresAt: null })).body.data.createApiKey;
    const created = await createApiKey(server, admin.accessToken, { name: 'forever', scopes: ['READ'], expiresAt: null });
    const rotated = await rotateAs({ token: admin.accessToken }, forever.apiKey.id);
    expect(codeOf(rotated.body)).toBe('FORBIDDEN');
    expect(codeOf(rotated.body)).toBe(codeOf(created.body));
    // Nothing changed: the old key still works and is not marked replaced.
    const row = await dbKey(forever.apiKey.id);
    expect([row.replaced_by_id, row.expires_at]).toEqual([null, null]);
    expect((await asKey(forever.secret)).status).toBe(200);
  });

  it("refuses an ADMIN the successor of the OWNER's year-9999 key, as createApiKey would", async () => {
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const farOff = (await createApiKey(server, owner.accessToken, { name: 'far-off', scopes: ['READ'], expiresAt: '9999-12-31T23:59:59Z' })).body.data.createApiKey;
    const created = await createApiKey(server, admin.accessToken, { name: 'far-off', scopes: ['READ'], expiresAt: '9999-12-31T23:59:59Z' });
    const rotated = await rotateAs({ token: admin.accessToken }, farOff.apiKey.id);
    expect(rotated.body.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'expiresAt', maxDays: 90 } });
    expect(codeOf(rotated.body)).toBe(codeOf(created.body));
    expect((await dbKey(farOff.apiKey.id)).replaced_by_id).toBeNull();
    expect((await asKey(farOff.secret)).status).toBe(200);
  });

  it('refuses a key holding only admin a read/write/admin successor, as createApiKey would', async () => {
    const adminOnly = (await createApiKey(server, owner.accessToken, { name: 'admin-only', scopes: ['ADMIN'] })).body.data.createApiKey.secret;
    const full = (await createApiKey(server, owner.accessToken, { name: 'full', scopes: ['READ', 'WRITE', 'ADMIN'] })).body.data.createApiKey;
    const created = await asKey(adminOnly, 'mutation { createApiKey(input: { name: "full", scopes: [READ, WRITE, ADMIN] }) { secret } }');
    const rotated = await rotateAs({ key: adminOnly }, full.apiKey.id);
    expect(codeOf(rotated.body)).toBe('FORBIDDEN');
    expect(codeOf(rotated.body)).toBe(codeOf(created.body));
    expect(rotated.body.data?.rotateApiKey ?? null).toBeNull();
    expect((await dbKey(full.apiKey.id)).replaced_by_id).toBeNull();
    expect((await asKey(full.secret)).status).toBe(200);
  });

  it('still rotates what the caller could have created: an OWNER keeps a never-expiring key, an admin key rotates its peer', async () => {
    const forever = (await createApiKey(server, owner.accessToken, { name: 'forever', scopes: ['READ'], expiresAt: null })).body.data.createApiKey;
    const byOwner = await rotateAs({ token: owner.accessToken }, forever.apiKey.id);
    expect(byOwner.body.data.rotateApiKey.apiKey).toMatchObject({ scopes: ['READ'], expiresAt: null });

    const full = (await createApiKey(server, owner.accessToken, { name: 'full', scopes: ['READ', 'WRITE', 'ADMIN'] })).body.data.createApiKey;
    const peer = (await createApiKey(server, owner.accessToken, { name: 'peer', scopes: ['READ', 'ADMIN'] })).body.data.createApiKey;
    const byKey = await rotateAs({ key: full.secret }, peer.apiKey.id);
    expect(byKey.body.data.rotateApiKey.apiKey.scopes).toEqual(['READ', 'ADMIN']);
    expect((await asKey(byKey.body.data.rotateApiKey.secret)).status).toBe(200);
  });
});

describe('bad ids', () => {
  it.each([
    ['not a global id', 'garbage'],
    ['a global id of another type', Buffer.from('Tenant:00000000-0000-0000-0000-000000000000').toString('base64')],
    ['a global id whose key is not a uuid', Buffer.from("ApiKey:1' or '1'='1").toString('base64')],
  ])('answers %s with BAD_USER_INPUT', async (_name, id) => {
    const { body } = await server.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { name } }', { token: owner.accessToken, variables: { id } });
    expect(codeOf(body)).toBe('BAD_USER_INPUT');
  });

  it('answers a well-formed id of no key with NOT_FOUND', async () => {
    const id = Buffer.from('ApiKey:00000000-0000-0000-0000-000000000000').toString('base64');
    const { body } = await server.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { name } }', { token: owner.accessToken, variables: { id } });
    expect(codeOf(body)).toBe('NOT_FOUND');
  });
});

describe('another tenant', () => {
  it("cannot revoke, rotate or see this tenant's keys", async () => {
    const mine = (await createApiKey(server, owner.accessToken, { name: 'mine', scopes: ['READ'] })).body.data.createApiKey;
    const stranger = await signUp(server, { tenantName: 'Stranger' });
    const revoke = await server.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { name } }', { token: stranger.accessToken, variables: { id: mine.apiKey.id } });
    expect(codeOf(revoke.body)).toBe('NOT_FOUND');
    const node = await server.graphql('query($id: ID!) { node(id: $id) { id ... on ApiKey { name } } }', { token: stranger.accessToken, variables: { id: mine.apiKey.id } });
    expect(node.body.data?.node ?? null).toBeNull();
    expect((await asKey(mine.secret)).status).toBe(200);
    expect((await dbKey(mine.apiKey.id)).revoked_at).toBeNull();
  });
});
