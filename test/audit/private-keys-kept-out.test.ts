/**
 * A private key pasted as an identity provider's `jwks` never reaches the audit trail
 * (attacker review, 2026-12-07): the refused `registerIdentityProvider` kept the key's `d` (an
 * RSA key's primes, an `oct` key's `k`) in its `graphql.mutation` event, readable by every ADMIN.
 * Today `jwks` is kept only as what identifies each key (marks.ts, `keySet`), a JSON Web Key's
 * private members are omitted from any unmarked value, and the migration
 * `audit_history_without_private_keys` removes them from events written before.
 */
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { must } from '../support/endpoints.js';
import { codeOf, signUp, tenantIdOf } from '../support/identity.js';
import { newKey, REGISTER_PROVIDER } from '../support/identity-provider.js';
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

const input = (jwks: unknown) => ({ name: 'Partner', issuer: `https://issuer-${randomUUID()}.example.test`, audience: 'sluice', jwks });
const isRegistration = (event: Record<string, any>) => event.details.fields?.[0]?.field === 'registerIdentityProvider';

/** Private JWKs as an administrator might paste them: bare, in a set, RSA with and without `d`, symmetric. */
async function privateKeys() {
  const ec = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
  const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
  const { d: _d, ...rsaWithoutD } = rsa;
  const oct = { kty: 'oct', kid: 'shared', k: 'c2VjcmV0LXNoYXJlZC13aXRoLWV2ZXJ5LWFkbWluLTE2' };
  const secrets = [ec.d!, rsa.d!, rsa.p!, rsa.q!, rsa.dp!, rsa.dq!, rsa.qi!, oct.k].map((value) => value.slice(0, 40));
  return { ec, rsa, rsaWithoutD, oct, secrets };
}

it('keeps only what identifies each key of a jwks, never a private member, refused or registered', async () => {
  const owner = await signUp(server);
  const { ec, rsa, rsaWithoutD, oct, secrets } = await privateKeys();
  const pasted = [ec, { keys: [rsa] }, { keys: [rsaWithoutD] }, { keys: [oct] }, { ...ec, kid: 'bare-with-kid' }];
  for (const jwks of pasted) {
    const { body } = await server.graphql(REGISTER_PROVIDER, { token: owner.accessToken, variables: { input: input(jwks) } });
    expect(codeOf(body)).toBe('BAD_USER_INPUT');
  }
  const publicKey = await newKey('partner-1', 'RS256');
  await must(server, owner.accessToken, REGISTER_PROVIDER, { input: input({ keys: [publicKey.jwk] }) });

  const events = await auditEventsOf(server, owner.accessToken, pasted.length + 1, { action: 'graphql.mutation' }, 15_000);
  const registrations = events.filter(isRegistration);
  expect(registrations).toHaveLength(pasted.length + 1);
  const json = JSON.stringify(events);
  for (const secret of secrets) expect(json).not.toContain(secret);

  const kept = registrations.map((event) => event.details.fields[0].arguments.input.jwks);
  const ecId = { kty: 'EC', kid: null, alg: null, use: null, crv: 'P-256', thumbprint: await calculateJwkThumbprint(ec), privateMembers: ['d'] };
  const rsaId = { kty: 'RSA', kid: null, alg: null, use: null, crv: null, thumbprint: await calculateJwkThumbprint(rsa) };
  expect(kept).toEqual([
    { keySet: { given: 'key', count: 1, ids: [ecId] } },
    { keySet: { given: 'set', count: 1, ids: [{ ...rsaId, privateMembers: ['d', 'p', 'q', 'dp', 'dq', 'qi'] }] } },
    { keySet: { given: 'set', count: 1, ids: [{ ...rsaId, privateMembers: ['p', 'q', 'dp', 'dq', 'qi'] }] } },
    { keySet: { given: 'set', count: 1, ids: [{ kty: 'oct', kid: 'shared', alg: null, use: null, crv: null, thumbprint: null, privateMembers: ['k'] }] } },
    { keySet: { given: 'key', count: 1, ids: [{ ...ecId, kid: 'bare-with-kid' }] } },
    {
      keySet: {
        given: 'set',
        count: 1,
        ids: [{ kty: 'RSA', kid: 'partner-1', alg: 'RS256', use: 'sig', crv: null, thumbprint: await calculateJwkThumbprint(publicKey.jwk) }],
      },
    },
  ]);

  // The registration's change event shows the key set the same way.
  const [change] = await auditEventsOf(server, owner.accessToken, 1, { action: 'config.identityProvider.register' });
  expect(change!.details.after.jwks).toEqual(kept.at(-1));
});

it('omits a JSON Web Key’s private members from any unmarked argument, and only from one (an object with kty)', async () => {
  const owner = await signUp(server);
  const { ec } = await privateKeys();
  // roleMapping is an unmarked JSON argument: a key pasted there is refused, and kept without its `d`.
  const { body } = await server.graphql(REGISTER_PROVIDER, {
    token: owner.accessToken,
    variables: { input: { ...input(null), jwksUrl: 'https://idp.example.test/jwks', roleMapping: { key: 'x', nested: ec, plain: { d: 'kept-d', k: 'kept-k' } } } },
  });
  expect(codeOf(body)).toBe('BAD_USER_INPUT');
  const [event] = await auditEventsOf(server, owner.accessToken, 1, { action: 'graphql.mutation' }, 10_000, isRegistration);
  const roleMapping = event!.details.fields[0].arguments.input.roleMapping;
  expect(roleMapping.nested).toEqual({ ...ec, d: { secret: 'omitted' } });
  expect(roleMapping.plain).toEqual({ d: 'kept-d', k: 'kept-k' });
});

const stored = (tenantId: string) =>
  asOwner(server, async (client) => (await client.query(`select seq, action, payload, encode(hash, 'hex') as hash from audit_events where tenant_id = $1 order by seq`, [tenantId])).rows);
const VERIFY = '{ verifyAuditChain { ok problem rewrites { eventId previousHeadHash rewrittenHeadHash } } }';
const MIGRATION = 'Migration20261207140000_audit_history_without_private_keys';

it('removes private key members from events written before, re-hashes and records the rewrite', async () => {
  const account = await signUp(server);
  const clean = await signUp(server);
  const tenantId = tenantIdOf(account);
  const { ec, rsa, secrets } = await privateKeys();
  // Today's code on both chains: a key set registered, a private key refused.
  for (const who of [account, clean]) {
    await must(server, who.accessToken, REGISTER_PROVIDER, { input: input({ keys: [(await newKey('k1', 'EdDSA')).jwk] }) });
    await server.graphql(REGISTER_PROVIDER, { token: who.accessToken, variables: { input: input(ec) } });
  }
  // As the code before 2026-12-07 wrote them: the bare key kept whole, an RSA key in a config diff.
  const at = new Date().toISOString();
  const old = (action: string, details: Record<string, unknown>) => {
    const id = randomUUID();
    return {
      id,
      tenantId,
      createdAt: at,
      personal: { email: null, ip: null, userAgent: null },
      payload: { id, at, action, outcome: 'BAD_USER_INPUT', actorKind: 'user', actorId: null, requestId: null, traceId: null, details },
    };
  };
  const olds = [
    old('graphql.mutation', { documentHash: 'cd'.repeat(32), fields: [{ field: 'registerIdentityProvider', arguments: { input: { name: 'P', jwks: ec } } }], durationMs: 3 }),
    old('config.identityProvider.register', { target: { type: 'IdentityProvider', id: randomUUID() }, before: null, after: { jwks: { keys: [rsa] }, nested: [{ key: rsa }] } }),
  ];
  await asOwner(server, (client) => client.query('select append_audit_events($1::jsonb)', [JSON.stringify(olds)]));
  await must(server, account.accessToken, '{ viewer { kind } }');
  await pollUntil(async () => (await stored(tenantId)).filter((row) => row.action === 'graphql.query').length, (seen) => seen >= 1, { timeoutMs: 15_000, failure: () => 'the query event was never written' });
  await pollUntil(async () => (await stored(tenantIdOf(clean))).filter((row) => row.action === 'graphql.mutation').length, (seen) => seen >= 2, { timeoutMs: 15_000, failure: () => 'the clean chain’s events were never written' });
  const before = await stored(tenantId);
  const cleanBefore = await stored(tenantIdOf(clean));
  expect(JSON.stringify(before)).toContain(ec.d);

  await runMigrationAgain(server, MIGRATION);

  const after = await stored(tenantId);
  const json = JSON.stringify(after);
  for (const secret of secrets.slice(0, 6)) expect(json).not.toContain(secret);
  const seeded = olds.map((event) => after.find((row) => row.payload.id === event.id)!);
  const omitted = { secret: 'omitted' };
  expect(seeded[0]!.payload.details.fields[0].arguments.input.jwks).toEqual({ ...ec, d: omitted });
  const rsaKept = { ...rsa, d: omitted, p: omitted, q: omitted, dp: omitted, dq: omitted, qi: omitted };
  expect(seeded[1]!.payload.details.after).toEqual({ jwks: { keys: [rsaKept] }, nested: [{ key: rsaKept }] });
  // Today's events keep their payloads; a chain with nothing to remove keeps every hash.
  const today = (rows: typeof before) => rows.filter((row) => !olds.some((event) => event.id === row.payload.id)).map((row) => row.payload);
  expect(today(after.slice(0, before.length))).toEqual(today(before));
  expect((await stored(tenantIdOf(clean))).slice(0, cleanBefore.length)).toEqual(cleanBefore);

  const rewrite = after.find((row) => row.action === 'audit.chain.rewritten')!;
  expect(rewrite.payload.details).toMatchObject({ changedEvents: 2, previousHeadHash: before.at(-1)!.hash, toSeq: String(before.at(-1)!.seq) });
  expect(rewrite.payload.details.reason).toContain('JSON Web Keys');
  const verified = (await must(server, account.accessToken, VERIFY)).verifyAuditChain;
  expect(verified).toMatchObject({ ok: true, problem: null });
  expect(verified.rewrites).toEqual([{ eventId: rewrite.payload.id, previousHeadHash: before.at(-1)!.hash, rewrittenHeadHash: rewrite.payload.details.rewrittenHeadHash }]);

  // Again: nothing left to change, nothing recorded.
  await pollUntil(async () => (await stored(tenantId)).filter((row) => row.action === 'graphql.query').length, (seen) => seen >= 2, { timeoutMs: 15_000, failure: () => 'the verification’s event was never written' });
  const settled = await stored(tenantId);
  await runMigrationAgain(server, MIGRATION);
  expect((await stored(tenantId)).slice(0, settled.length)).toEqual(settled);
  expect((await stored(tenantId)).filter((row) => row.action === 'audit.chain.rewritten')).toHaveLength(1);
});
