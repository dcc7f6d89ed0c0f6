/**
 * An operator command that changes a tenant records it on the tenant's chain, in the same
 * transaction as the change, with the command as the actor (`system` / `sluice <command>`).
 * Before, `sluice keys create --scopes read,write,admin --no-expiry` minted a working ADMIN key
 * that no event named (attacker review), and `sluice rotate-master-key` re-sealed models' keys
 * unrecorded. The tenant's owner reads the events through GraphQL, and the chain still verifies.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { signUp } from '../support/identity.js';
import { execSluice, sluiceEnv } from '../support/process.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
let fake: FakeOpenAI;
beforeAll(async () => {
  [server, fake] = await Promise.all([startTestServer(), startFakeOpenAI()]);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const sluice = (...args: string[]) => execSluice(args, sluiceEnv(server.database, { LOG_LEVEL: 'info' }));
const verified = async (token: string) => (await must(server, token, '{ verifyAuditChain { ok problem } }')).verifyAuditChain;

// Each command is a child process that migrates and opens the database: slow on a busy machine.
const CHILD_PROCESS_TIMEOUT = { timeout: 300_000 };

it('sluice keys create records config.apiKey.create on the tenant’s chain', CHILD_PROCESS_TIMEOUT, async () => {
  const owner = await signUp(server, { tenantName: 'Operator keys' });
  const { stdout } = await sluice('keys', 'create', '--tenant', owner.tenant.slug, '--name', 'backdoor', '--scopes', 'read,write,admin', '--no-expiry', '--json');
  const minted = JSON.parse(stdout);
  const { viewer } = await must(server, owner.accessToken, '{ viewer { tenant { apiKeys(first: 10) { edges { node { id prefix } } } } } }');
  const keyId = databaseIdOf(viewer.tenant.apiKeys.edges.find((edge: any) => edge.node.prefix === minted.prefix).node.id);

  // Committed with the key, so already there.
  const [event, ...more] = await auditEventsOf(server, owner.accessToken, 0, { action: 'config.apiKey.create' });
  expect(more).toEqual([]);
  expect(event).toMatchObject({ action: 'config.apiKey.create', outcome: 'ok', actorKind: 'system', actorId: 'sluice keys create', actorEmail: null });
  expect(event!.details).toEqual({
    target: { type: 'ApiKey', id: keyId },
    before: null,
    after: { name: 'backdoor', prefix: minted.prefix, scopes: ['read', 'write', 'admin'], expiresAt: null, revokedAt: null },
  });
  expect(JSON.stringify(event)).not.toContain(minted.secret);
  expect(await verified(owner.accessToken)).toEqual({ ok: true, problem: null });
});

it('sluice rotate-master-key records each re-sealed model key on its tenant’s chain', CHILD_PROCESS_TIMEOUT, async () => {
  const owner = await signUp(server, { tenantName: 'Operator rotation' });
  const created = await must(server, owner.accessToken, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
    i: { name: uniqueSlug('model'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'gpt' }, apiKey: 'sk-rotation-test-1234' },
  });
  const modelId = databaseIdOf(created.createModel.id);
  // Sealed as before keys were bound to their origin, so the rotation (to the same master key) re-seals it.
  const box = secretsOf(server);
  const legacy = box.seal('sk-rotation-test-1234', modelId);
  await withClient(server.database.ownerUrl, (client) => client.query('update models set api_key_ciphertext = $1, api_key_key_id = $2 where id = $3', [legacy.ciphertext, legacy.keyId, modelId]));

  await sluice('rotate-master-key', '--json');

  const events = await auditEventsOf(server, owner.accessToken, 0, { action: 'model.key_resealed' });
  expect(events.map((event) => [event.actorKind, event.actorId, event.details])).toEqual([
    ['system', 'sluice rotate-master-key', { target: { type: 'Model', id: modelId }, masterKeyId: legacy.keyId, previousMasterKeyId: legacy.keyId, boundToOrigin: true }],
  ]);
  expect(JSON.stringify(events)).not.toContain('sk-rotation-test-1234');
  expect(await verified(owner.accessToken)).toEqual({ ok: true, problem: null });
});
