/**
 * The migration that applies today's audit rules to events written under older ones
 * (Migration20261206190000_audit_history_rescrubbed, migrations/support/audit-history-rescrub.ts):
 * events seeded as the code before 2026-12-06 wrote them (a config change keeping an `slk_` key,
 * a Bearer value, a provider key, a JWKS `access_token` and a system prompt verbatim; an
 * operation whose name, alias and argument hold a key) lose those secrets; the chain is
 * re-hashed, the rewrite recorded on it and it still verifies; events written by today's code
 * (a model with a system prompt and a secret-named header among them) are unchanged, on the
 * rewritten chain and on a chain with nothing to remove; running it again changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditEventsOf, oldAuditEvent } from '../support/audit.js';
import { createModel, must } from '../support/endpoints.js';
import { createApiKey, signUp, tenantIdOf } from '../support/identity.js';
import { asOwner } from '../support/locks.js';
import { runMigrationAgain } from '../support/migrations.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const KEY = `slk_${'Q'.repeat(43)}`;

/**
 * The migration, run by the migrator as a start after an upgrade runs it: un-recorded first, so
 * it is pending again. Returns the chains it rewrote (by their rewrite events).
 */
async function rescrub(): Promise<string[]> {
  const rewritesBefore = await rewriteEventIds();
  await runMigrationAgain(server, MIGRATION);
  return (await rewriteEventIds()).filter((row) => !rewritesBefore.some((old) => old.id === row.id)).map((row) => row.tenant_id);
}
const MIGRATION = 'Migration20261206190000_audit_history_rescrubbed';
const rewriteEventIds = () =>
  asOwner(server, async (client) => (await client.query(`select tenant_id, payload->>'id' as id from audit_events where action = 'audit.chain.rewritten'`)).rows as { tenant_id: string; id: string }[]);

const stored = (tenantId: string) =>
  asOwner(server, async (client) => (await client.query(`select seq, action, payload, encode(hash, 'hex') as hash from audit_events where tenant_id = $1 order by seq`, [tenantId])).rows);
const VERIFY = '{ verifyAuditChain { ok problem checked rewrites { eventId previousHeadHash rewrittenHeadHash } } }';

/** Waits (owner connection: no audited call of its own) until the chain holds `count` events of `action`. */
async function written(tenantId: string, action: string, count: number): Promise<void> {
  const ofAction = async () => (await stored(tenantId)).filter((row) => row.action === action).length;
  await pollUntil(ofAction, (seen) => seen >= count, { timeoutMs: 15_000, failure: (seen) => `${count} ${action} events were never written (${seen} seen)` });
}

it('masks what older rules kept, re-hashes and records the rewrite, and leaves what today’s code wrote as it was', async () => {
  const account = await signUp(server);
  const clean = await signUp(server);
  const tenantId = tenantIdOf(account);
  // Today's code, on both chains: a model whose config holds a system prompt (kept as a digest)
  // and a provider key (redacted), its API key (omitted), and an operation with an alias.
  for (const who of [account, clean]) {
    await createModel(server, who.accessToken, {
      name: 'Chat',
      type: 'openai-compatible',
      config: { baseUrl: 'https://models.example.com/v1', model: 'sk-proj-TODAYKEY1234567890abcdef', systemPrompt: 'Answer briefly.' },
      apiKey: 'sk-today-0123456789',
    });
    await must(server, who.accessToken, '{ me: viewer { kind } }');
  }
  await written(tenantIdOf(clean), 'graphql.query', 1);
  await asOwner(server, (client) =>
    client.query('select append_audit_events($1::jsonb)', [
      JSON.stringify([
        oldAuditEvent(tenantId, 'config.endpoint.update', { target: { type: 'Endpoint', id: randomUUID() }, before: { name: 'Docs' }, after: { name: `harbour ab-${KEY} Bearer EPSECRETabcdef` } }),
        oldAuditEvent(tenantId, 'config.model.update', {
          target: { type: 'Model', id: randomUUID() },
          before: null,
          after: { config: { model: 'sk-proj-PROVIDERKEY1234567890abcdef', systemPrompt: 'The vault code is 4417.', headers: { Cookie: 'session=abc' } } },
        }),
        oldAuditEvent(tenantId, 'config.identityProvider.create', { target: { type: 'IdentityProvider', id: randomUUID() }, before: null, after: { jwksUrl: 'https://idp.example.com/jwks?access_token=JWKSSECRET123456' } }),
        oldAuditEvent(tenantId, 'graphql.query', { operationName: KEY, documentHash: 'ab'.repeat(32), fields: [{ field: 'viewer', alias: `x${KEY}`, arguments: { path: `dir/${KEY}-x.txt` } }], durationMs: 2 }),
      ]),
    ]),
  );
  await createApiKey(server, account.accessToken, { name: 'after', scopes: ['READ'] });
  await must(server, account.accessToken, '{ me: viewer { kind } }');
  expect((await must(server, account.accessToken, VERIFY)).verifyAuditChain).toMatchObject({ ok: true, rewrites: [] });
  // Each call's event is written after its answer: the last one's (and so every earlier one's,
  // written in order) is on the chain, and no call follows until the rewrite has run.
  await written(tenantId, 'graphql.query', 4);
  const before = await stored(tenantId);
  const cleanBefore = await stored(tenantIdOf(clean));

  expect(await rescrub()).toEqual([tenantId]);

  const after = await stored(tenantId);
  const json = JSON.stringify(after);
  for (const secret of [KEY, 'EPSECRETabcdef', 'PROVIDERKEY', 'vault code', 'session=abc', 'JWKSSECRET']) expect(json).not.toContain(secret);
  const details = (action: string) => after.find((row) => row.action === action)!.payload.details;
  expect(details('config.endpoint.update').after).toEqual({ name: 'harbour ab-slk_[redacted] Bearer [redacted]' });
  expect(details('config.model.update').after.config).toEqual({ model: 'sk-[redacted]', systemPrompt: { removed: 'text' }, headers: { Cookie: { secret: 'omitted' } } });
  expect(details('config.identityProvider.create').after.jwksUrl).toBe('https://idp.example.com/jwks?access_token=[redacted]');
  const operation = after.find((row) => row.action === 'graphql.query' && row.payload.details.documentHash === 'ab'.repeat(32))!.payload.details;
  expect(operation.operationName).toBe('slk_[redacted]');
  expect(operation.fields[0]).toEqual({ field: 'viewer', alias: 'xslk_[redacted]', arguments: { path: 'dir/slk_[redacted].txt' } });
  // What today's code wrote keeps its payload (only re-hashed where it follows a changed event).
  const seeded = new Set(['config.endpoint.update', 'config.model.update', 'config.identityProvider.create']);
  const unchanged = (rows: typeof before) => rows.filter((row) => !seeded.has(row.action) && row.payload.details.documentHash !== 'ab'.repeat(32)).map((row) => row.payload);
  expect(unchanged(after.slice(0, before.length))).toEqual(unchanged(before));
  const model = details('config.model.create').after.config;
  expect(model.systemPrompt).toMatchObject({ text: { length: 'Answer briefly.'.length } });
  expect(model.model).toBe('sk-[redacted]');
  const createModelArguments = after.find((row) => row.payload.details.fields?.[0]?.field === 'createModel')!.payload.details.fields[0].arguments;
  expect(createModelArguments.input.apiKey).toEqual({ secret: 'omitted' });
  // A chain with nothing to remove keeps every hash.
  expect((await stored(tenantIdOf(clean))).slice(0, cleanBefore.length)).toEqual(cleanBefore);

  const rewrite = after.find((row) => row.action === 'audit.chain.rewritten')!;
  expect(rewrite.payload.details).toMatchObject({ changedEvents: 4, previousHeadHash: before.at(-1)!.hash, toSeq: String(before.at(-1)!.seq) });
  const verified = (await must(server, account.accessToken, VERIFY)).verifyAuditChain;
  expect(verified).toMatchObject({ ok: true, problem: null });
  expect(verified.rewrites).toEqual([{ eventId: rewrite.payload.id, previousHeadHash: before.at(-1)!.hash, rewrittenHeadHash: rewrite.payload.details.rewrittenHeadHash }]);
  const seen = await auditEventsOf(server, account.accessToken, 1, { action: 'audit.chain.rewritten' });
  expect(seen.map((event) => event.action)).toEqual(['audit.chain.rewritten']);

  // Again: nothing left to change, nothing recorded.
  await written(tenantId, 'graphql.query', 5);
  const settled = await stored(tenantId);
  expect(await rescrub()).toEqual([]);
  expect((await stored(tenantId)).slice(0, settled.length)).toEqual(settled);
});
