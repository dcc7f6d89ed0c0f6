/**
 * A credential never makes one that outlives it (src/domains/identity/credential-lifetimes.ts).
 * Before, only revocation reached what a key made: a key expiring in an hour could mint a key
 * for 90 days, or send a 7-day invitation, and those outlived it; rotating it left them too.
 * Expiry is simulated by moving `expires_at` into the past on the test database: no waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { asOwner } from '../support/locks.js';
import { runMigrationAgain } from '../support/migrations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const CREATE = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id expiresAt } } }';
const ROTATE = 'mutation($id: ID!, $grace: Int!) { rotateApiKey(id: $id, gracePeriodSeconds: $grace) { secret apiKey { id expiresAt } } }';
const INVITE = 'mutation($email: String!) { inviteMember(email: $email, role: MEMBER) { token invitation { id expiresAt } } }';
const ACCEPT = 'mutation($token: String!) { acceptInvitation(token: $token, password: "a long enough passphrase") { role } }';
const VIEWER = '{ viewer { kind credentialExpiresAt } }';
const ALL_SCOPES = ['READ', 'WRITE', 'ADMIN'];
const HOUR_MS = 3600_000;

type Key = { secret: string; id: string; expiresAt: string | null };
const asKey = (secret: string, query: string, variables?: Record<string, unknown>) => server.graphql(query, { headers: { 'x-api-key': secret }, variables });
const sql = (text: string, params: unknown[]) => asOwner(server, (client) => client.query(text, params));
const expire = (key: Key) => sql(`update api_keys set expires_at = now() - interval '1 second' where id = $1`, [databaseIdOf(key.id)]);
const storedExpiry = async (key: Key) => ((await sql('select expires_at from api_keys where id = $1', [databaseIdOf(key.id)])).rows[0].expires_at as Date | null)?.toISOString() ?? null;
/** [status, reason] of a request made with the key. */
const standing = async (key: Key) => {
  const { status, body } = await asKey(key.secret, VIEWER);
  return [status, body.errors?.[0]?.extensions?.reason ?? null];
};

/** A key the OWNER creates, ending `hours` from now. */
async function keyOf(owner: SignedUp, hours: number): Promise<Key> {
  const { body } = await createApiKey(server, owner.accessToken, { name: 'parent', scopes: ALL_SCOPES, expiresAt: new Date(Date.now() + hours * HOUR_MS).toISOString() });
  expect(body.errors).toBeUndefined();
  return { secret: body.data.createApiKey.secret, ...body.data.createApiKey.apiKey };
}

async function mintedBy(parent: Key, input: Record<string, unknown> = {}): Promise<Key> {
  const { body } = await asKey(parent.secret, CREATE, { input: { name: 'child', scopes: ALL_SCOPES, ...input } });
  expect(body.errors).toBeUndefined();
  return { secret: body.data.createApiKey.secret, ...body.data.createApiKey.apiKey };
}

describe('minting a key with a key', () => {
  it('refuses a child asking to outlive its parent, and allows one ending with it', async () => {
    const owner = await signUp(server, { tenantName: 'Child asks for more' });
    const parent = await keyOf(owner, 1);
    const later = new Date(Date.parse(parent.expiresAt!) + 24 * HOUR_MS).toISOString();
    const { body } = await asKey(parent.secret, CREATE, { input: { name: 'child', scopes: ['READ'], expiresAt: later } });
    expect(body.data?.createApiKey ?? null).toBeNull();
    expect(body.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'expiresAt', reason: 'OUTLIVES_PARENT', latest: parent.expiresAt });
    expect((await mintedBy(parent, { expiresAt: parent.expiresAt })).expiresAt).toBe(parent.expiresAt);
  });

  it('gives a child that names no expiry its parent’s end, not the tenant’s 90 days', async () => {
    const owner = await signUp(server, { tenantName: 'Child asks nothing' });
    const parent = await keyOf(owner, 1);
    const child = await mintedBy(parent);
    expect(child.expiresAt).toBe(parent.expiresAt);
    // And its own children get the same end, down the line.
    expect((await mintedBy(child)).expiresAt).toBe(parent.expiresAt);
  });
});

describe('a key whose parent has ended', () => {
  it('stops when its parent expires, down the line, even with a later expiry of its own (as older code stored)', async () => {
    const owner = await signUp(server, { tenantName: 'Parent expires' });
    const parent = await keyOf(owner, 1);
    const child = await mintedBy(parent);
    const grandchild = await mintedBy(child);
    await sql(`update api_keys set expires_at = '2999-01-01T00:00:00Z' where id = any($1::uuid[])`, [[databaseIdOf(child.id), databaseIdOf(grandchild.id)]]);
    const bystander = await keyOf(owner, 1);
    expect(await standing(grandchild)).toEqual([200, null]);

    await expire(parent);

    expect(await standing(parent)).toEqual([401, 'expired']);
    expect(await standing(child)).toEqual([401, 'parent-expired']);
    expect(await standing(grandchild)).toEqual([401, 'parent-expired']);
    expect(await standing(bystander)).toEqual([200, null]);
  });

  it('stops when a parent was revoked by a path that did not reach it', async () => {
    const owner = await signUp(server, { tenantName: 'Parent revoked quietly' });
    const parent = await keyOf(owner, 1);
    const child = await mintedBy(parent);
    await sql('update api_keys set revoked_at = now() where id = $1', [databaseIdOf(parent.id)]);
    expect(await standing(child)).toEqual([401, 'parent-revoked']);
  });
});

describe('rotating a parent', () => {
  it('ends what it minted with the old key: at once, or with the grace period', async () => {
    const owner = await signUp(server, { tenantName: 'Parent rotated' });
    const rotate = (key: Key, grace: number) => server.graphql(ROTATE, { token: owner.accessToken, variables: { id: key.id, grace } });

    const atOnce = await keyOf(owner, 24);
    const childAtOnce = await mintedBy(atOnce);
    expect((await rotate(atOnce, 0)).body.errors).toBeUndefined();
    expect(await standing(childAtOnce)).toEqual([401, 'parent-expired']);

    const graced = await keyOf(owner, 24);
    const childGraced = await mintedBy(graced);
    expect((await rotate(graced, 3600)).body.errors).toBeUndefined();
    const graceEnd = await storedExpiry(graced);
    const viewer = await asKey(childGraced.secret, VIEWER);
    expect(viewer.body.data.viewer).toEqual({ kind: 'API_KEY', credentialExpiresAt: graceEnd });
    await expire(graced); // the grace period ends
    expect(await standing(childGraced)).toEqual([401, 'parent-expired']);
  });

  it('by the key itself: a new secret, not a longer life, still under its own parent', async () => {
    const owner = await signUp(server, { tenantName: 'Key rotates itself' });
    const parent = await keyOf(owner, 1);
    const child = await mintedBy(parent);
    const { body } = await asKey(child.secret, ROTATE, { id: child.id, grace: 0 });
    const successor: Key = { secret: body.data.rotateApiKey.secret, ...body.data.rotateApiKey.apiKey };
    expect(successor.expiresAt).toBe(child.expiresAt);
    expect(await standing(child)).toEqual([401, 'expired']);
    expect(await standing(successor)).toEqual([200, null]);
    await expire(parent);
    expect(await standing(successor)).toEqual([401, 'parent-expired']);
  });

  it('by another key: the successor ends no later than the key that rotated it', async () => {
    const owner = await signUp(server, { tenantName: 'Short key rotates long key' });
    const shortLived = await keyOf(owner, 1);
    const longLived = await keyOf(owner, 24 * 30);
    const { body } = await asKey(shortLived.secret, ROTATE, { id: longLived.id, grace: 0 });
    expect(body.data.rotateApiKey.apiKey.expiresAt).toBe(shortLived.expiresAt);
  });
});

describe('invitations a key sends', () => {
  const invite = async (key: Key) => {
    const { body } = await asKey(key.secret, INVITE, { email: uniqueEmail('invitee') });
    expect(body.errors).toBeUndefined();
    return body.data.inviteMember as { token: string; invitation: { id: string; expiresAt: string } };
  };
  const accept = async (token: string) => (await server.graphql(ACCEPT, { variables: { token } })).body;

  it('end when the key does: the offer’s expiry is the key’s, and acceptance after it is refused', async () => {
    const owner = await signUp(server, { tenantName: 'Key invites' });
    const parent = await keyOf(owner, 1);
    const sent = await invite(parent);
    expect(sent.invitation.expiresAt).toBe(parent.expiresAt);
    await expire(parent);
    expect((await accept(sent.token)).errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', reason: 'expired' });
  });

  it('are refused once the sending key is rotated and its grace period over', async () => {
    const owner = await signUp(server, { tenantName: 'Inviting key rotated' });
    const parent = await keyOf(owner, 24);
    const sent = await invite(parent);
    const rotated = await server.graphql(ROTATE, { token: owner.accessToken, variables: { id: parent.id, grace: 0 } });
    expect((await accept(sent.token)).errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', reason: 'expired' });
    // The successor sends a new one, which works.
    const fresh = await invite({ secret: rotated.body.data.rotateApiKey.secret, ...rotated.body.data.rotateApiKey.apiKey });
    expect((await accept(fresh.token)).data.acceptInvitation).toEqual({ role: 'MEMBER' });
  });
});

it('the upgrade gives children that older code let outlive their parents the parents’ end', async () => {
  const owner = await signUp(server, { tenantName: 'Older children' });
  const parent = await keyOf(owner, 1);
  const later = await mintedBy(parent);
  const never = await mintedBy(parent);
  const within = await mintedBy(parent, { expiresAt: new Date(Date.parse(parent.expiresAt!) - HOUR_MS / 2).toISOString() });
  const sent = await asKey(parent.secret, INVITE, { email: uniqueEmail('invitee') });
  const invitationId = sent.body.data.inviteMember.invitation.id as string; // an invitation's id is its row id
  // As older code stored them.
  await sql(`update api_keys set expires_at = '2999-01-01T00:00:00Z' where id = $1`, [databaseIdOf(later.id)]);
  await sql('update api_keys set expires_at = null where id = $1', [databaseIdOf(never.id)]);
  await asOwner(server, async (client) => {
    await client.query('begin');
    await client.query(`select set_config('app.tenant_id', $1, true)`, [owner.tenant.id]);
    await client.query(`update invitations set expires_at = now() + interval '7 days' where id = $1`, [invitationId]);
    await client.query('commit');
  });

  await runMigrationAgain(server, 'Migration20261207090000_key_chain_lifetimes');

  expect([await storedExpiry(later), await storedExpiry(never), await storedExpiry(within)]).toEqual([parent.expiresAt, parent.expiresAt, within.expiresAt]);
  const invitation = await sql('select expires_at from invitations where id = $1', [invitationId]);
  expect((invitation.rows[0].expires_at as Date).toISOString()).toBe(parent.expiresAt);
});
