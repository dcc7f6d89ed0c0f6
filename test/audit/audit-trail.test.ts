/**
 * The audit trail end to end: a scripted session yields exactly the expected events in order
 * with no secret in them; the chain verifies; an UPDATE through the owner (superuser)
 * connection is detected; the app role cannot UPDATE or DELETE events; export and the live
 * feed; stored emails replaced by digests when a tenant asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import pg from 'pg';
import { withClient } from '../../src/db/bootstrap.js';
import { verifyChain } from '../../src/domains/audit/chain-verifier.js';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, gql, must, queryEndpoint } from '../support/endpoints.js';
import { createApiKey, logIn, signUp, tenantIdOf } from '../support/identity.js';
import { createPolicy } from '../support/policies.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('a scripted session', () => {
  it('yields the expected events, in order, with no secret in them', async () => {
    const account = await signUp(server, { password: 'correct horse battery staple' });
    const token = account.accessToken;
    const key = await createApiKey(server, token, { name: 'ci', scopes: ['READ'] });
    const secret = key.body.data.createApiKey.secret as string;
    const setup = await endpointOver(server, token, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }]);
    await createPolicy(server, token, setup.endpointId, 'content_guard', { maxUrls: 0 });
    expect((await queryEndpoint(server, token, setup.reference, 'lock keeper', undefined, 'answer')).errors).toBeUndefined();
    expect((await queryEndpoint(server, token, setup.reference, 'see https://example.com', undefined, 'answer')).errors[0].extensions.code).toBe('POLICY_DENIED');
    const failed = await logIn(server, { email: account.email, password: 'wrong password' });
    expect(failed.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const good = await logIn(server, { email: account.email, password: 'correct horse battery staple' });
    expect(good.body.errors).toBeUndefined();

    // The log-in is the last event of the session on the tenant's chain.
    await auditEventsOf(server, token, 1, { action: 'auth.login' });
    const events = await auditEventsOf(server, token, 0);
    const wanted = events.filter((event) => !event.action.startsWith('graphql.query'));
    const shape = wanted.map((event) => `${event.action} ${event.outcome}`);
    expect(shape).toEqual([
      'config.apiKey.create ok',
      'graphql.mutation ok', // createApiKey
      'graphql.mutation ok', // createDataset
      'graphql.mutation ok', // ingestDocuments
      'config.model.create ok',
      'graphql.mutation ok', // createModel
      'config.endpoint.create ok',
      'graphql.mutation ok', // createEndpoint
      'config.policy.create ok',
      'graphql.mutation ok', // createPolicy
      'endpoint.query ok',
      'policy.denied POLICY_DENIED',
      'auth.login ok',
      // The logIn mutation itself (anonymous) and the failed attempt are on the platform's chain.
    ]);
    const json = JSON.stringify(events);
    expect(json).not.toContain('correct horse battery staple');
    expect(json).not.toContain(secret);
    expect(json).not.toContain('wrong password');
    const login = wanted.find((event) => event.action === 'auth.login')!;
    expect(login).toMatchObject({ actorKind: 'user', actorEmail: account.email, ip: expect.stringMatching(/127\.0\.0\.1|::1/) });
    const platform = await withClient(server.database.ownerUrl, async (client) => {
      const { rows } = await client.query(
        `select action, outcome, payload, personal from audit_events where tenant_id = '00000000-0000-0000-0000-000000000000' and personal->>'email' = $1 order by seq`,
        [account.email],
      );
      return rows;
    });
    expect(platform.map((row) => `${row.action} ${row.outcome}`)).toEqual(['auth.login UNAUTHENTICATED']);
    expect(wanted[0]!.details.after).toEqual({ name: 'ci', prefix: expect.any(String), scopes: ['read'], expiresAt: expect.any(String), revokedAt: null });
    const creation = wanted[1]!;
    // The arguments as the schema's audit marks keep them (raw variables are no longer stored).
    expect(creation.details.fields).toEqual([{ field: 'createApiKey', arguments: { input: { name: 'ci', scopes: ['READ'] } } }]);
    expect(creation.details).not.toHaveProperty('variables');
    expect(creation.details.documentHash).toMatch(/^[0-9a-f]{64}$/);
    const policyChange = wanted.find((event) => event.action === 'config.policy.create')!;
    expect(policyChange.details.after).toMatchObject({ type: 'content_guard', enabled: true });
  });
});

/** A fresh tenant's owner, and the tenant's database id (the API gives global ids). */
async function ownerSession() {
  const owner = await signUp(server);
  return { ...owner, tenantId: tenantIdOf(owner) };
}

describe('tamper evidence', () => {
  it('verifies, detects an UPDATE made through the owner connection, and the app role may neither UPDATE nor DELETE', async () => {
    const owner = await ownerSession();
    await createApiKey(server, owner.accessToken, { name: 'one', scopes: ['READ'] });
    await createApiKey(server, owner.accessToken, { name: 'two', scopes: ['READ'] });
    const events = await auditEventsOf(server, owner.accessToken, 2, { action: 'graphql.mutation' });
    const verify = 'query { verifyAuditChain { ok checked firstBrokenEventId problem } }';
    const before = (await must(server, owner.accessToken, verify)).verifyAuditChain;
    expect(before).toMatchObject({ ok: true, firstBrokenEventId: null });
    expect(before.checked).toBeGreaterThanOrEqual(2);

    // The app role: no UPDATE, no DELETE, not even on its own tenant's rows.
    const app = new pg.Client({ connectionString: server.database.appUrl });
    await app.connect();
    try {
      await app.query('begin');
      await app.query(`select set_config('app.tenant_id', $1, true)`, [owner.tenantId]);
      await expect(app.query(`update audit_events set outcome = 'ok'`)).rejects.toThrow(/permission denied/);
      await app.query('rollback');
      await expect(app.query('delete from audit_events')).rejects.toThrow(/permission denied/);
      await expect(app.query(`insert into audit_events select * from audit_events limit 1`)).rejects.toThrow(/permission denied/);
    } finally {
      await app.end();
    }

    // An operator with the owner's rights rewrites history: verification names the event.
    const target = events[0]!;
    await withClient(server.database.ownerUrl, (client) =>
      client.query(`update audit_events set payload = jsonb_set(payload, '{outcome}', '"FORBIDDEN"'), outcome = 'FORBIDDEN' where id = $1`, [target.id]),
    );
    const after = (await must(server, owner.accessToken, verify)).verifyAuditChain;
    expect(after).toMatchObject({ ok: false, firstBrokenEventId: target.id, problem: 'its payload does not match its hash' });
    // Personal data lies outside the hash but under a keyed digest: changing it is detected too.
    await withClient(server.database.ownerUrl, (client) =>
      client.query(`update audit_events set payload = jsonb_set(payload, '{outcome}', '"ok"'), outcome = 'ok' where id = $1`, [target.id]),
    );
    expect((await must(server, owner.accessToken, verify)).verifyAuditChain.ok).toBe(true);
    await withClient(server.database.ownerUrl, (client) => client.query(`update audit_events set personal = jsonb_set(personal, '{ip}', '"10.9.9.9"') where id = $1`, [target.id]));
    expect((await must(server, owner.accessToken, verify)).verifyAuditChain).toMatchObject({ ok: false, firstBrokenEventId: target.id, problem: 'its personal data does not match its digest' });
  });

  it('verifies up to the head it read: an event appended meanwhile is not a broken chain', async () => {
    const owner = await ownerSession();
    await createApiKey(server, owner.accessToken, { name: 'before', scopes: ['READ'] });
    await auditEventsOf(server, owner.accessToken, 1, { action: 'graphql.mutation' });
    const secrets = secretsOf(server);
    const result = await withClient(server.database.ownerUrl, async (client) => {
      let statements = 0;
      return verifyChain(async (sql, params) => {
        let index = 0;
        const rows = (await client.query(sql.replace(/\?/g, () => `$${++index}`), params)).rows;
        // Between reading the head and reading the events, another request's event lands.
        if (statements++ === 0) {
          await createApiKey(server, owner.accessToken, { name: 'meanwhile', scopes: ['READ'] });
          // Proven landed (auditEventsOf gives up quietly after its timeout): both keys' events.
          expect(await auditEventsOf(server, owner.accessToken, 2, { action: 'config.apiKey.create' })).toHaveLength(2);
        }
        return rows as never;
      }, secrets, owner.tenantId);
    });
    expect(result).toMatchObject({ ok: true, problem: null });
    expect((await must(server, owner.accessToken, 'query { verifyAuditChain { ok checked } }')).verifyAuditChain.checked).toBeGreaterThan(result.checked);
  });
});

describe('reading the trail', () => {
  it('exports JSON Lines in order to ADMINs only, and refuses other credentials', async () => {
    const owner = await ownerSession();
    await createApiKey(server, owner.accessToken, { name: 'one', scopes: ['READ'] });
    const key = await createApiKey(server, owner.accessToken, { name: 'reader', scopes: ['READ'] });
    const events = await auditEventsOf(server, owner.accessToken, 2, { action: 'graphql.mutation' });
    const response = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl?action=graphql.mutation`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await response.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.id)).toEqual(events.map((event) => event.id));
    const refused = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { 'x-api-key': key.body.data.createApiKey.secret } });
    expect(refused.status).toBe(403);
    expect((await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`)).status).toBe(401);
    expect((await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl?from=yesterday`, { headers: { authorization: `Bearer ${owner.accessToken}` } })).status).toBe(400);
  });

  it('answers an export that fails unexpectedly with INTERNAL and the request id its cause is logged under', async () => {
    const owner = await ownerSession();
    // Reading the events fails before the response starts: not a coded error.
    await withClient(server.database.ownerUrl, (client) => client.query('revoke select on audit_events from sluice_app'));
    try {
      const response = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
      expect(response.status).toBe(500);
      const requestId = response.headers.get('x-request-id');
      expect(requestId).toMatch(/\S/);
      expect(await response.json()).toEqual({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL', requestId } }] });
      const logged = server.logs.find((line) => line.requestId === requestId && line.level >= 50);
      expect(logged?.err?.message).toMatch(/permission denied for table audit_events/);
    } finally {
      await withClient(server.database.ownerUrl, (client) => client.query('grant select on audit_events to sluice_app'));
    }
  });

  it('streams new events to a live subscription', async () => {
    const owner = await ownerSession();
    // Made and written before the subscription: history the feed must not replay.
    await createApiKey(server, owner.accessToken, { name: 'before-the-feed', scopes: ['READ'] });
    await auditEventsOf(server, owner.accessToken, 1, { action: 'config.apiKey.create' });
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${owner.accessToken}` } });
    try {
      const iterator = client.iterate({ query: 'subscription { auditEvents { action outcome details } }' });
      // The feed starts from the newest event when the subscription begins, which happens
      // asynchronously: keep making audited changes until they arrive (under load, the
      // subscription's own start event may already be written by then, and so not be new).
      const seen: { action: string; outcome: string; details: any }[] = [];
      const reading = (async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          seen.push((next.value.data as { auditEvents: (typeof seen)[number] }).auditEvents);
          const change = seen.findIndex((event) => event.action === 'config.apiKey.create');
          if (change >= 0 && seen.slice(change + 1).some((event) => event.action === 'graphql.mutation')) return;
        }
      })();
      const writes: Promise<unknown>[] = [];
      const writer = setInterval(() => writes.push(createApiKey(server, owner.accessToken, { name: `live-${writes.length}`, scopes: ['READ'] })), 150);
      try {
        await reading;
      } finally {
        clearInterval(writer);
        // Every request the writer started ends before the server may close.
        await Promise.allSettled(writes);
      }
      const change = seen.find((event) => event.action === 'config.apiKey.create')!;
      expect(change).toMatchObject({ outcome: 'ok', details: { after: { name: expect.stringMatching(/^live-\d+$/) } } });
      // Only changes made after it began: the feed does not replay the tenant's history.
      expect(seen.filter((event) => event.action === 'config.apiKey.create').every((event) => /^live-\d+$/.test(event.details.after.name))).toBe(true);
      // The mutations that made the changes are there too.
      expect(seen.slice(seen.indexOf(change) + 1)).toContainEqual(expect.objectContaining({ action: 'graphql.mutation', outcome: 'ok' }));
      await iterator.return?.();
    } finally {
      await client.dispose();
    }
  });

  it('keeps a keyed digest instead of the email for a tenant that stores none', async () => {
    const owner = await ownerSession();
    const settings = await must(server, owner.accessToken, 'mutation { updateTenantSettings(input: { auditStoreEmails: false }) { auditStoreEmails } }');
    expect(settings.updateTenantSettings.auditStoreEmails).toBe(false);
    await createApiKey(server, owner.accessToken, { name: 'x', scopes: ['READ'] });
    const events = await auditEventsOf(server, owner.accessToken, 2, { action: 'config.*' });
    const change = events.find((event) => event.action === 'config.tenant.settings')!;
    expect(change.details).toMatchObject({ before: { auditStoreEmails: true }, after: { auditStoreEmails: false } });
    const [event] = await auditEventsOf(server, owner.accessToken, 1, { action: 'config.apiKey.create' });
    expect(event!.actorEmail).toMatch(/^digest:[0-9a-f]{64}$/);
    expect(JSON.stringify(event)).not.toContain(owner.email);
  });
});

describe('shutdown', () => {
  it('writes every queued event before the server stops', async () => {
    const owner = await ownerSession();
    const second = await startTestServer({ database: server.database });
    const name = `last-words-${Date.now()}`;
    const created = await second.graphql('mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }', {
      token: owner.accessToken,
      variables: { i: { name, scopes: ['READ'] } },
    });
    expect(created.body.errors).toBeUndefined();
    // At once: the batch timer (200 ms) has not fired, so only close() can write the events.
    await second.close();
    const actions = await withClient(server.database.ownerUrl, async (client) => {
      const { rows } = await client.query(
        `select action from audit_events where tenant_id = $1 and (payload->'details'->'after'->>'name' = $2 or payload->'details'->'fields'->0->'arguments'->'input'->>'name' = $2) order by seq`,
        [owner.tenantId, name],
      );
      return rows.map((row) => row.action);
    });
    expect(actions).toEqual(['config.apiKey.create', 'graphql.mutation']);
  });
});
