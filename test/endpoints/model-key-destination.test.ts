/**
 * A model's sealed API key goes only to the server it was given for. Before, an ADMIN (or an
 * `admin` API key) who may edit models but never read their keys pointed the OWNER's model at a
 * server of their own (`updateModel` with a new `config.baseUrl`, key kept) and `testModel`
 * handed it `Authorization: Bearer <the owner's key>`. Now an update that changes the origin of
 * `baseUrl` must give `apiKey` (new, or null for none), and a key is sealed for its origin, so a
 * row pointed elsewhere by any other path cannot open it. Two fake-openai servers stand for the
 * owner's provider (A) and the attacker's (B), for chat and embeddings models alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { rotateMasterKey } from '../../src/domains/models/rotate-master-key.js';
import { auditEventsOf } from '../support/audit.js';
import { gql, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { addMember, createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const OWNERS_KEY = 'sk-OWNERS-PROVIDER-KEY-9f3a';
const CREATE = 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }';
const UPDATE = 'mutation($id: ID!, $i: UpdateModelInput!) { updateModel(id: $id, input: $i) { config apiKeySet apiKeyLast4 } }';
const TEST = 'mutation($id: ID!) { testModel(id: $id) { ok error } }';

let server: TestServer;
let a: FakeOpenAI;
let b: FakeOpenAI;
let owner: SignedUp;
let admin: { accessToken: string };
let adminKey: string;
beforeAll(async () => {
  [a, b, server] = await Promise.all([startFakeOpenAI(), startFakeOpenAI(), startTestServer()]);
  owner = await signUp(server, { tenantName: 'Key Destinations' });
  admin = await addMember(server, owner.accessToken, 'ADMIN');
  adminKey = (await createApiKey(server, owner.accessToken, { name: 'ops', scopes: ['READ', 'WRITE', 'ADMIN'] })).body.data.createApiKey.secret;
});
afterAll(async () => {
  await server?.close();
  await Promise.all([a?.close(), b?.close()]);
});

const TYPES = [
  { type: 'openai-compatible', config: (baseUrl: string) => ({ baseUrl, model: 'gpt' }) },
  { type: 'openai-compatible-embeddings', config: (baseUrl: string) => ({ baseUrl, model: 'embed' }) },
];


/** The Authorization headers `fake` received since `from`. */
const authorizations = (fake: FakeOpenAI, from: number) => fake.requests.slice(from).map((request) => request.headers.authorization ?? null);

describe.each(TYPES)('a $type model', ({ type, config }) => {
  async function ownersModel(): Promise<string> {
    const created = await must(server, owner.accessToken, CREATE, { i: { name: uniqueSlug('owner-model'), type, config: config(a.baseUrl), apiKey: OWNERS_KEY } });
    return created.createModel.id;
  }

  it('refuses an ADMIN, or an admin API key, moving it to another server with its key; the other server never hears the key', async () => {
    const id = await ownersModel();
    const [fromA, fromB] = [a.requests.length, b.requests.length];
    for (const token of [admin.accessToken, adminKey]) {
      const refused = await gql(server, token, UPDATE, { id, i: { config: config(b.baseUrl) } });
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'apiKey', reason: 'KEY_DESTINATION_CHANGED', from: new URL(a.baseUrl).origin, to: new URL(b.baseUrl).origin });
      expect(refused.errors[0].message).toContain('apiKey must be given');
      expect(refused.data).toBeNull();
    }
    // Nothing changed: the model still calls A, with the owner's key.
    expect((await must(server, admin.accessToken, TEST, { id })).testModel).toEqual({ ok: true, error: null });
    expect(authorizations(a, fromA)).toEqual([`Bearer ${OWNERS_KEY}`]);
    expect(b.requests.length).toBe(fromB);
  });

  it('moves it when the update gives the key for the new server, or null for none', async () => {
    const id = await ownersModel();
    const fromB = b.requests.length;
    const keyless = await must(server, admin.accessToken, UPDATE, { id, i: { config: config(b.baseUrl), apiKey: null } });
    expect(keyless.updateModel).toMatchObject({ config: config(b.baseUrl), apiKeySet: false, apiKeyLast4: null });
    expect((await must(server, admin.accessToken, TEST, { id })).testModel.ok).toBe(true);
    const replaced = await must(server, admin.accessToken, UPDATE, { id, i: { config: config(a.baseUrl), apiKey: 'sk-admins-own-key-7777' } });
    expect(replaced.updateModel).toMatchObject({ apiKeySet: true, apiKeyLast4: '7777' });
    expect(authorizations(b, fromB)).toEqual([null]);
    // The audit trail records the key's change of destination beside its config's.
    const ofModel = (event: Record<string, any>) => event.details.target.id === databaseIdOf(id);
    const events = (await auditEventsOf(server, owner.accessToken, 1, { action: 'config.model.update' }, 10_000, (event) => ofModel(event) && event.details.after.keyLast4 === '7777')).filter(ofModel);
    const seen = (side: Record<string, any>) => ({ baseUrl: side.config.baseUrl, keySet: side.keySet, keyLast4: side.keyLast4, keyOrigin: side.keyOrigin });
    const [atA, atB] = [{ baseUrl: a.baseUrl, keyOrigin: new URL(a.baseUrl).origin }, { baseUrl: b.baseUrl, keyOrigin: null }];
    expect(events.map((event) => [seen(event.details.before), seen(event.details.after)])).toEqual([
      [{ ...atA, keySet: true, keyLast4: '9f3a' }, { ...atB, keySet: false, keyLast4: null }],
      [{ ...atB, keySet: false, keyLast4: null }, { ...atA, keySet: true, keyLast4: '7777' }],
    ]);
  });

  it('keeps the key for a change on the same origin (another path, the same server)', async () => {
    const id = await ownersModel();
    const fromA = a.requests.length;
    const samePlace = `${a.baseUrl}/`;
    expect((await must(server, admin.accessToken, UPDATE, { id, i: { config: config(samePlace) } })).updateModel).toMatchObject({ apiKeySet: true, apiKeyLast4: '9f3a' });
    expect((await must(server, admin.accessToken, TEST, { id })).testModel).toEqual({ ok: true, error: null });
    expect(authorizations(a, fromA)).toEqual([`Bearer ${OWNERS_KEY}`]);
  });

  it('does not send the key when the row is pointed elsewhere by any other path: it is sealed for its origin', async () => {
    const id = await ownersModel();
    await withClient(server.database.ownerUrl, (client) =>
      client.query(`update models set config = jsonb_set(config, '{baseUrl}', to_jsonb($1::text)) where id = $2`, [b.baseUrl, databaseIdOf(id)]),
    );
    const fromB = b.requests.length;
    const result = await gql(server, admin.accessToken, TEST, { id });
    expect(result.data.testModel).toEqual({ ok: false, error: 'The check failed unexpectedly' });
    expect(JSON.stringify(result)).not.toContain(OWNERS_KEY);
    expect(b.requests.length).toBe(fromB);
  });
});

describe('a key sealed before keys were bound to their origin', () => {
  it('still opens where it is, and sluice rotate-master-key binds it to its origin', async () => {
    const box = secretsOf(server);
    const id = (await must(server, owner.accessToken, CREATE, { i: { name: uniqueSlug('legacy'), type: 'openai-compatible', config: { baseUrl: a.baseUrl, model: 'gpt' } } })).createModel.id;
    // Sealed as before: the row's id alone as associated data.
    const legacy = box.seal(OWNERS_KEY, databaseIdOf(id));
    const setRow = (sql: string, values: unknown[]) => withClient(server.database.ownerUrl, (client) => client.query(sql, [...values, databaseIdOf(id)]));
    await setRow('update models set api_key_ciphertext = $1, api_key_key_id = $2, api_key_last4 = $3 where id = $4', [legacy.ciphertext, legacy.keyId, '9f3a']);
    const fromA = a.requests.length;
    expect((await must(server, owner.accessToken, TEST, { id })).testModel).toEqual({ ok: true, error: null });
    expect(authorizations(a, fromA)).toEqual([`Bearer ${OWNERS_KEY}`]);

    const report = await rotateMasterKey(server.database.ownerUrl, box);
    expect(report.boundToOrigin).toBe(1);
    expect(report.unreadable).not.toContain(databaseIdOf(id));
    expect((await must(server, owner.accessToken, TEST, { id })).testModel).toEqual({ ok: true, error: null });
    expect(authorizations(a, fromA)).toEqual([`Bearer ${OWNERS_KEY}`, `Bearer ${OWNERS_KEY}`]);
    // Bound now: pointed at B behind the API's back, it no longer opens.
    await setRow(`update models set config = jsonb_set(config, '{baseUrl}', to_jsonb($1::text)) where id = $2`, [b.baseUrl]);
    const fromB = b.requests.length;
    expect(JSON.stringify(await gql(server, owner.accessToken, TEST, { id }))).not.toContain(OWNERS_KEY);
    expect(b.requests.length).toBe(fromB);
    // A second run finds nothing left to bind, and reports the row it cannot open.
    const again = await rotateMasterKey(server.database.ownerUrl, box);
    expect(again.boundToOrigin).toBe(0);
    expect(again.unreadable).toContain(databaseIdOf(id));
  });
});
