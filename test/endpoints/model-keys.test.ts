/**
 * A model's API key at rest: not readable in the database row, in any API response or in the
 * logs; bound to its row; and still usable after `sluice rotate-master-key` re-encrypts it
 * under a new master key (the old one then no longer needed). The model server is the
 * fake-openai test double (a third-party service we cannot reach) speaking the real protocol.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { runMigrationAgain } from '../support/migrations.js';
import { endpointOver, gql, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { runSluice, sluiceEnv } from '../support/process.js';
import { startTestServer, TEST_MASTER_KEY, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const API_KEY = `sk-live-${randomBytes(12).toString('hex')}`;
const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer();
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});


async function modelRow(id: string) {
  return withClient(server.database.ownerUrl, async (client) => {
    const { rows } = await client.query(`select * from models where id = $1`, [id]);
    return rows[0];
  });
}

/** `sluice rotate-master-key` from the test server's key to `newKey`. */
function rotationEnv(newKey: string) {
  return sluiceEnv(server.database, { LOG_LEVEL: 'info', SLUICE_MASTER_KEY: newKey, SLUICE_MASTER_KEY_PREVIOUS: TEST_MASTER_KEY });
}

/** Answers one query through the fake and returns the Authorization header it received. */
async function authorizationSeen(target: TestServer, token: string, reference: string): Promise<string | undefined> {
  fake.script({ deltas: ['The lock keeper fills it [1].'] });
  const before = fake.requests.length;
  const body = await queryEndpoint(target, token, reference, 'lock keeper', undefined, 'answer');
  expect(body.errors).toBeUndefined();
  expect(body.data.queryEndpoint.answer).toBe('The lock keeper fills it [1].');
  return fake.requests[before]?.headers.authorization as string | undefined;
}

it('stores the key sealed, shows only its last four characters, logs it nowhere, and uses it', async () => {
  const setup = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'test-model' }, apiKey: API_KEY },
  });
  const { node } = await must(server, owner.token, 'query($id: ID!) { node(id: $id) { ... on Model { apiKeySet apiKeyLast4 config } } }', { id: setup.modelId });
  expect(node).toEqual({ apiKeySet: true, apiKeyLast4: API_KEY.slice(-4), config: { baseUrl: fake.baseUrl, model: 'test-model' } });

  const row = await modelRow(databaseIdOf(setup.modelId));
  expect(JSON.stringify(row)).not.toContain(API_KEY);
  expect(JSON.stringify(row)).not.toContain(API_KEY.slice(0, -4));
  expect(row.api_key_ciphertext.length).toBeGreaterThan(API_KEY.length);

  expect(await authorizationSeen(server, owner.token, setup.reference)).toBe(`Bearer ${API_KEY}`);
  expect(JSON.stringify(server.logs)).not.toContain(API_KEY);
});

// Ends with `sluice rotate-master-key` as a child process: slow on a busy machine (it timed out at the default 30 s).
it('a ciphertext moved onto another model row does not open', { timeout: 300_000 }, async () => {
  const model = { type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' } };
  const first = await endpointOver(server, owner.token, DOCS, { model: { ...model, name: uniqueSlug('a'), apiKey: API_KEY } });
  const second = await endpointOver(server, owner.token, DOCS, { model: { ...model, name: uniqueSlug('b'), apiKey: 'sk-other-0000' } });
  await withClient(server.database.ownerUrl, (client) =>
    client.query(`update models set api_key_ciphertext = (select api_key_ciphertext from models where id = $1) where id = $2`, [databaseIdOf(first.modelId), databaseIdOf(second.modelId)]),
  );
  const body = await queryEndpoint(server, owner.token, second.reference, 'lock keeper', undefined, 'answer');
  expect(body.errors[0].extensions.code).toBe('INTERNAL');
  expect(JSON.stringify(body)).not.toContain(API_KEY);

  // Rotation leaves the damaged row alone, names it and exits 1 (to the same key here, so the
  // other rows stay as they are for the tests that follow).
  const rotation = await runSluice(['rotate-master-key', '--json'], rotationEnv(TEST_MASTER_KEY));
  expect(rotation.code).toBe(1);
  expect(JSON.parse(rotation.stdout).unreadable).toEqual([databaseIdOf(second.modelId)]);
  // Repair it for the tests that follow: a new key on the model.
  await must(server, owner.token, 'mutation($id: ID!) { updateModel(id: $id, input: { apiKey: "sk-repaired-1234" }) { id } }', { id: second.modelId });
});

// `sluice rotate-master-key` runs as a child process: slow on a busy machine.
it('sluice rotate-master-key re-encrypts under the new key; the model works with the new key alone', { timeout: 300_000 }, async () => {
  const setup = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'test-model' }, apiKey: API_KEY },
  });
  const id = databaseIdOf(setup.modelId);
  const before = await modelRow(id);
  const newKey = randomBytes(32).toString('base64');

  const rotation = await runSluice(['rotate-master-key', '--json'], rotationEnv(newKey));
  expect(rotation.code).toBe(0);
  const report = JSON.parse(rotation.stdout);
  expect(report.resealed).toBeGreaterThanOrEqual(1);
  expect(rotation.stdout + rotation.stderr).not.toContain(API_KEY);

  const after = await modelRow(id);
  expect(after.api_key_key_id).not.toBe(before.api_key_key_id);
  expect(after.api_key_ciphertext).not.toBe(before.api_key_ciphertext);

  // A server that knows only the new key still calls the provider with the same API key.
  const rotated = await startTestServer({ database: server.database, env: { SLUICE_MASTER_KEY: newKey } });
  try {
    expect(await authorizationSeen(rotated, owner.token, setup.reference)).toBe(`Bearer ${API_KEY}`);
  } finally {
    await rotated.close();
  }
  // And the old server, without the new key, cannot open it: the old key is really retired.
  const stale = await queryEndpoint(server, owner.token, setup.reference, 'lock keeper', undefined, 'answer');
  expect(stale.errors[0].extensions.code).toBe('INTERNAL');
});

it('updateModel replaces or removes the key; a type without keys refuses one', async () => {
  const { createModel } = await must(server, owner.token, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id apiKeySet } }', {
    i: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'x' } },
  });
  expect(createModel.apiKeySet).toBe(false);
  const update = 'mutation($id: ID!, $i: UpdateModelInput!) { updateModel(id: $id, input: $i) { apiKeySet apiKeyLast4 } }';
  expect((await must(server, owner.token, update, { id: createModel.id, i: { apiKey: 'sk-abcd-efgh-9876' } })).updateModel).toEqual({ apiKeySet: true, apiKeyLast4: '9876' });
  expect((await must(server, owner.token, update, { id: createModel.id, i: { name: uniqueSlug('renamed') } })).updateModel).toEqual({ apiKeySet: true, apiKeyLast4: '9876' });
  expect((await must(server, owner.token, update, { id: createModel.id, i: { apiKey: null } })).updateModel).toEqual({ apiKeySet: false, apiKeyLast4: null });
  const refused = await gql(server, owner.token, update, { id: createModel.id, i: { apiKey: 'has whitespace' } });
  expect(refused.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'apiKey' });
});

it('shows and records the last four of a key of 16 characters or more only: a short key stays hidden', async () => {
  // A 4-character key's "last four" were all of it, shown to every ADMIN and kept on the trail (attacker review).
  const create = 'mutation($i: CreateModelInput!) { createModel(input: $i) { id apiKeyLast4 } }';
  const shown: Record<string, string | null> = {};
  for (const key of ['Zk9q', 'sk-15-chars-Q7x', 'sk-16-chars-Q7xY']) {
    const { createModel } = await must(server, owner.token, create, { i: { name: uniqueSlug('short'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'x' }, apiKey: key } });
    shown[key] = createModel.apiKeyLast4;
  }
  expect(shown).toEqual({ Zk9q: null, 'sk-15-chars-Q7x': null, 'sk-16-chars-Q7xY': 'Q7xY' });
  const events = await auditEventsOf(server, owner.token, 3, { action: 'config.model.create' }, 10_000, (event) => event.details.after.keyLast4 === 'Q7xY');
  const recorded = events.filter((event) => event.details.after.keySet).map((event) => event.details.after.keyLast4);
  expect(recorded.slice(-3)).toEqual([null, null, 'Q7xY']);
  expect(JSON.stringify(events)).not.toContain('Zk9q');
});

it('hides the last four that older code stored for a short key (migration model_key_last4_of_long_keys)', async () => {
  const create = 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }';
  const ids: string[] = [];
  for (const key of ['Zk9q', 'sk-16-chars-R2dZ']) {
    const { createModel } = await must(server, owner.token, create, { i: { name: uniqueSlug('older'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'x' }, apiKey: key } });
    ids.push(databaseIdOf(createModel.id));
  }
  // As the code before 2026-12-07 stored them: every key's last four.
  await withClient(server.database.ownerUrl, (client) => client.query(`update models set api_key_last4 = case id when $1 then 'Zk9q' else 'R2dZ' end where id = any($2::uuid[])`, [ids[0], ids]));
  await runMigrationAgain(server, 'Migration20261207140100_model_key_last4_of_long_keys');
  const rows = await withClient(server.database.ownerUrl, async (client) => (await client.query('select id, api_key_last4 from models where id = any($1::uuid[])', [ids])).rows);
  expect(Object.fromEntries(rows.map((row) => [row.id, row.api_key_last4]))).toEqual({ [ids[0]!]: null, [ids[1]!]: 'R2dZ' });
});
