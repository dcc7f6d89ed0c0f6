/**
 * The migration that cleans the history written before arguments were kept by the schema's
 * audit marks (Migration20261202083125_audit_history_without_arguments): events seeded in the
 * old format, with a password and a refresh token in `variables` and an invitee's email in a
 * `config.member.invite` diff, lose them; the chain is re-hashed, the rewrite is recorded on
 * it (with the old head hash) and still verifies; a chain with nothing to remove is untouched;
 * running it again changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REWRITE_AUDIT_HISTORY_SQL } from '../../migrations/Migration20261202083125_audit_history_without_arguments.js';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { must } from '../support/endpoints.js';
import { createApiKey, signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const owner = <T>(fn: (client: import('pg').Client) => Promise<T>) => withClient(server.database.ownerUrl, fn);
const tenantIdOf = (account: { tenant: { id: string } }) => Buffer.from(account.tenant.id, 'base64').toString().split(':')[1]!;

/** An event as the writer stored it before (details.variables). */
function oldEvent(tenantId: string, action: string, details: Record<string, unknown>) {
  const id = randomUUID();
  const createdAt = new Date().toISOString();
  return {
    id,
    tenantId,
    createdAt,
    personal: { email: null, ip: null, userAgent: null },
    payload: { id, at: createdAt, action, outcome: 'ok', actorKind: 'user', actorId: null, requestId: null, traceId: null, details },
  };
}

const head = (tenantId: string) => owner(async (client) => (await client.query(`select seq, encode(hash, 'hex') as hash from audit_chain_heads where tenant_id = $1`, [tenantId])).rows[0]);
const VERIFY = '{ verifyAuditChain { ok problem checked rewrites { eventId previousHeadHash rewrittenHeadHash } } }';

it('removes stored variables and diff emails, re-hashes the chain, records the rewrite, and the chain verifies', async () => {
  const account = await signUp(server);
  const untouched = await signUp(server);
  const tenantId = tenantIdOf(account);
  await createApiKey(server, account.accessToken, { name: 'before', scopes: ['READ'] });
  await createApiKey(server, untouched.accessToken, { name: 'clean', scopes: ['READ'] });
  await auditEventsOf(server, account.accessToken, 2);
  await auditEventsOf(server, untouched.accessToken, 2);
  await owner((client) =>
    client.query('select append_audit_events($1::jsonb)', [
      JSON.stringify([
        oldEvent(tenantId, 'graphql.mutation', { operationName: null, documentHash: 'ab'.repeat(32), variables: { p: 'old secret password 999' }, durationMs: 3 }),
        oldEvent(tenantId, 'config.member.invite', { target: { type: 'Invitation', id: randomUUID() }, before: null, after: { email: 'old-invitee@example.test', role: 'MEMBER' } }),
        oldEvent(tenantId, 'graphql.mutation', { operationName: 'R', documentHash: 'cd'.repeat(32), variables: { r: 'slr_oldrefreshtoken' }, durationMs: 1 }),
      ]),
    ]),
  );
  await createApiKey(server, account.accessToken, { name: 'after', scopes: ['READ'] });
  await auditEventsOf(server, account.accessToken, 7);
  expect((await must(server, account.accessToken, VERIFY)).verifyAuditChain).toMatchObject({ ok: true, rewrites: [] });
  const oldHead = await head(tenantId);
  const cleanHead = await head(tenantIdOf(untouched));

  await owner((client) => client.query(REWRITE_AUDIT_HISTORY_SQL));

  const rows = await owner(async (client) => (await client.query('select action, payload from audit_events where tenant_id = $1 order by seq', [tenantId])).rows);
  const json = JSON.stringify(rows);
  expect(json).not.toContain('old secret password 999');
  expect(json).not.toContain('slr_oldrefreshtoken');
  expect(json).not.toContain('old-invitee@example.test');
  expect(rows.filter((row) => row.action.startsWith('graphql.')).every((row) => !('variables' in row.payload.details))).toBe(true);
  expect(rows.find((row) => row.action === 'config.member.invite')!.payload.details.after).toEqual({ email: { removed: 'personal' }, role: 'MEMBER' });
  // What the API wrote itself is unchanged, only re-hashed.
  expect(rows.find((row) => row.action === 'config.apiKey.create')!.payload.details.after.name).toBe('before');

  const rewrite = rows.at(-1)!;
  expect(rewrite.action).toBe('audit.chain.rewritten');
  expect(rewrite.payload.details).toMatchObject({ changedEvents: 3, previousHeadHash: oldHead.hash, toSeq: String(oldHead.seq) });
  const verified = (await must(server, account.accessToken, VERIFY)).verifyAuditChain;
  expect(verified).toMatchObject({ ok: true, problem: null });
  expect(verified.rewrites).toEqual([{ eventId: rewrite.payload.id, previousHeadHash: oldHead.hash, rewrittenHeadHash: rewrite.payload.details.rewrittenHeadHash }]);
  // Visible to the tenant's ADMINs like any event.
  const seen = await auditEventsOf(server, account.accessToken, 1, { action: 'audit.chain.rewritten' });
  expect(seen.map((event) => event.action)).toEqual(['audit.chain.rewritten']);

  // A chain with nothing to remove keeps its hashes and gets no rewrite event.
  expect(await head(tenantIdOf(untouched))).toEqual(cleanHead);
  // Again: nothing left to remove, nothing recorded.
  const rewritten = await head(tenantId);
  await owner((client) => client.query(REWRITE_AUDIT_HISTORY_SQL));
  expect(await head(tenantId)).toEqual(rewritten);
});

it('a rewrite record that does not name the hash it follows is reported', async () => {
  const account = await signUp(server);
  const tenantId = tenantIdOf(account);
  await owner((client) =>
    client.query('select append_audit_events($1::jsonb)', [
      JSON.stringify([oldEvent(tenantId, 'graphql.mutation', { variables: { p: 'x secret' } })]),
    ]),
  );
  await owner((client) => client.query(REWRITE_AUDIT_HISTORY_SQL));
  // A forged record (re-hashed so the hashes hold) naming another head is caught.
  await owner(async (client) => {
    await client.query(`update audit_events set payload = jsonb_set(payload, '{details,rewrittenHeadHash}', '"00"') where tenant_id = $1 and action = 'audit.chain.rewritten'`, [tenantId]);
    await client.query(
      `update audit_events set hash = sha256(prev_hash || convert_to(payload::text, 'UTF8')) where tenant_id = $1 and action = 'audit.chain.rewritten'`,
      [tenantId],
    );
    await client.query(`update audit_chain_heads h set hash = e.hash from audit_events e where e.tenant_id = h.tenant_id and e.seq = h.seq and h.tenant_id = $1`, [tenantId]);
  });
  expect((await must(server, account.accessToken, VERIFY)).verifyAuditChain).toMatchObject({ ok: false, problem: 'its record of a chain rewrite does not name the hash it follows' });
});
