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
import { auditEventsOf, oldAuditEvent } from '../support/audit.js';
import { must } from '../support/endpoints.js';
import { createApiKey, signUp, tenantIdOf } from '../support/identity.js';
import { asOwner } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** Waits (owner connection: no audited call of its own) until `field`'s operation event is stored. */
async function lastOperationWritten(tenantId: string, field: string): Promise<void> {
  const count = () =>
    asOwner(server, async (client) =>
      Number((await client.query(`select count(*) from audit_events where tenant_id = $1 and payload->'details'->'fields'->0->>'field' = $2`, [tenantId, field])).rows[0].count),
    );
  await pollUntil(count, (seen) => seen > 0, { timeoutMs: 15_000, intervalMs: 25, failure: () => `the ${field} operation event was never written` });
}

/** The chain's (seq, hash) pairs up to `seq`, in order. */
const hashesUpTo = (tenantId: string, seq: string) =>
  asOwner(server, async (client) => (await client.query(`select seq, encode(hash, 'hex') as hash from audit_events where tenant_id = $1 and seq <= $2 order by seq`, [tenantId, seq])).rows);
const rewriteEvents = (tenantId: string) =>
  asOwner(server, async (client) => Number((await client.query(`select count(*) from audit_events where tenant_id = $1 and action = 'audit.chain.rewritten'`, [tenantId])).rows[0].count));

const head = (tenantId: string) => asOwner(server, async (client) => (await client.query(`select seq, encode(hash, 'hex') as hash from audit_chain_heads where tenant_id = $1`, [tenantId])).rows[0]);
const VERIFY = '{ verifyAuditChain { ok problem checked rewrites { eventId previousHeadHash rewrittenHeadHash } } }';

it('removes stored variables and diff emails, re-hashes the chain, records the rewrite, and the chain verifies', async () => {
  const account = await signUp(server);
  const untouched = await signUp(server);
  const tenantId = tenantIdOf(account);
  await createApiKey(server, account.accessToken, { name: 'before', scopes: ['READ'] });
  await createApiKey(server, untouched.accessToken, { name: 'clean', scopes: ['READ'] });
  await auditEventsOf(server, account.accessToken, 2);
  await auditEventsOf(server, untouched.accessToken, 2);
  await asOwner(server, (client) =>
    client.query('select append_audit_events($1::jsonb)', [
      JSON.stringify([
        oldAuditEvent(tenantId, 'graphql.mutation', { operationName: null, documentHash: 'ab'.repeat(32), variables: { p: 'old secret password 999' }, durationMs: 3 }),
        oldAuditEvent(tenantId, 'config.member.invite', { target: { type: 'Invitation', id: randomUUID() }, before: null, after: { email: 'old-invitee@example.test', role: 'MEMBER' } }),
        oldAuditEvent(tenantId, 'graphql.mutation', { operationName: 'R', documentHash: 'cd'.repeat(32), variables: { r: 'slr_oldrefreshtoken' }, durationMs: 1 }),
      ]),
    ]),
  );
  await createApiKey(server, account.accessToken, { name: 'after', scopes: ['READ'] });
  await auditEventsOf(server, account.accessToken, 7);
  expect((await must(server, account.accessToken, VERIFY)).verifyAuditChain).toMatchObject({ ok: true, rewrites: [] });
  // Every GraphQL call is audited asynchronously: the head is read once the last call's event
  // (and so, written in order, every earlier one) is on the chain, and no call follows until
  // the rewrite has run, so nothing lands between the two.
  await lastOperationWritten(tenantId, 'verifyAuditChain');
  const oldHead = await head(tenantId);
  const cleanHead = await head(tenantIdOf(untouched));
  const cleanHashes = await hashesUpTo(tenantIdOf(untouched), cleanHead.seq);

  await asOwner(server, (client) => client.query(REWRITE_AUDIT_HISTORY_SQL));

  const rows = await asOwner(server, async (client) => (await client.query('select action, payload from audit_events where tenant_id = $1 order by seq', [tenantId])).rows);
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

  // A chain with nothing to remove keeps its hashes and gets no rewrite event. (Compared up to
  // a sequence read earlier: the API's own events of the calls above may still be landing.)
  expect(await hashesUpTo(tenantIdOf(untouched), cleanHead.seq)).toEqual(cleanHashes);
  expect(await rewriteEvents(tenantIdOf(untouched))).toBe(0);
  // Again: nothing left to remove, nothing recorded, nothing re-hashed.
  const rewritten = await head(tenantId);
  const rewrittenHashes = await hashesUpTo(tenantId, rewritten.seq);
  await asOwner(server, (client) => client.query(REWRITE_AUDIT_HISTORY_SQL));
  expect(await hashesUpTo(tenantId, rewritten.seq)).toEqual(rewrittenHashes);
  expect(await rewriteEvents(tenantId)).toBe(1);
});

it('a rewrite record that does not name the hash it follows is reported', async () => {
  const account = await signUp(server);
  const tenantId = tenantIdOf(account);
  await asOwner(server, (client) =>
    client.query('select append_audit_events($1::jsonb)', [
      JSON.stringify([oldAuditEvent(tenantId, 'graphql.mutation', { variables: { p: 'x secret' } })]),
    ]),
  );
  await asOwner(server, (client) => client.query(REWRITE_AUDIT_HISTORY_SQL));
  // A forged record (re-hashed so the hashes hold) naming another head is caught.
  await asOwner(server, async (client) => {
    await client.query(`update audit_events set payload = jsonb_set(payload, '{details,rewrittenHeadHash}', '"00"') where tenant_id = $1 and action = 'audit.chain.rewritten'`, [tenantId]);
    await client.query(
      `update audit_events set hash = sha256(prev_hash || convert_to(payload::text, 'UTF8')) where tenant_id = $1 and action = 'audit.chain.rewritten'`,
      [tenantId],
    );
    await client.query(`update audit_chain_heads h set hash = e.hash from audit_events e where e.tenant_id = h.tenant_id and e.seq = h.seq and h.tenant_id = $1`, [tenantId]);
  });
  expect((await must(server, account.accessToken, VERIFY)).verifyAuditChain).toMatchObject({ ok: false, problem: 'its record of a chain rewrite does not name the hash it follows' });
});
