/**
 * Requests refused before the point where the audit plugin records them leave an event too
 * (an attacker review): the REST login's requests (`rest.login`, as the `logIn` mutation
 * leaves `graphql.mutation`; refused sign-ins under a flood limit of their own), and GraphQL operations refused by parsing, validation or an
 * operation limit, over HTTP and graphql-ws. What costs the caller nothing goes through the
 * refusal log's flood limit, here 5 per chain and address (or authenticated caller) every 2 s
 * and 50 per chain, with the buckets' clock standing still, so counts are exact; only the
 * summary's timer is real. A refused credential has buckets of its own, which no flood of
 * refused operations draws on (an attacker review).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { PLATFORM_CHAIN } from '../../src/domains/audit/audit-log.js';
import { createApiKey, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp, ManualClock, wsClient, wsOperation } from '../limits/support.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
let owner: SignedUp;
let key: { secret: string; id: string };

beforeAll(async () => {
  server = await startTestServer({
    clock: new ManualClock(),
    // Two sign-in attempts per email and address: a RATE_LIMITED login within the refused sign-ins' 5 events.
    env: { SLUICE_TRUST_PROXY: '1', SLUICE_RATE_LIMITS: 'on', SLUICE_AUTH_FAILURE_AUDIT_LIMIT: '5/2s', SLUICE_MAX_VARIABLE_VALUES: '100', SLUICE_AUTH_LIMIT_PER_EMAIL_AND_IP: '2/15m' },
  });
  owner = await signUp(server, { tenantName: 'Refusals' });
  const created = (await createApiKey(server, owner.accessToken, { name: 'caller', scopes: ['ADMIN', 'WRITE', 'READ'] })).body.data.createApiKey;
  key = { secret: created.secret, id: databaseIdOf(created.apiKey.id) };
});
afterAll(() => server?.close());

const ownerSql = <T = Record<string, any>>(sql: string, params: unknown[] = []) =>
  withClient(server.database.ownerUrl, (client) => client.query(sql, params)).then((result) => result.rows as T[]);

/** The events (any chain) whose request came from `ip`, once there are at least `atLeast`. */
const eventsFrom = (ip: string, atLeast: number, action = '%') =>
  pollUntil(
    () =>
      ownerSql(
        `select tenant_id as "tenantId", action, outcome, actor_kind as "actorKind", actor_id as "actorId", payload->'details' as details, payload::text as payload
           from audit_events where personal->>'ip' = $1 and action like $2 order by created_at, seq`,
        [ip, action],
      ),
    (rows) => rows.length >= atLeast,
    { timeoutMs: 15_000, intervalMs: 50, failure: (rows) => `expected ${atLeast} events from ${ip}, found ${JSON.stringify(rows)}` },
  );

/** A chain's summaries of suppressed refusals (the platform's by default) that count `kind`, once they count at least `atLeast`. */
const suppressedOf = (kind: string, { chain = PLATFORM_CHAIN, atLeast = 1 }: { chain?: string; atLeast?: number } = {}) =>
  pollUntil(
    () =>
      ownerSql<{ count: string | null; sources: number[] }>(
        `select sum((payload->'details'->'kinds'->>$2)::int) as count, array_agg((payload->'details'->>'sources')::int) as sources
           from audit_events where tenant_id = $1 and action = 'auth.refusals_suppressed' and payload->'details'->'kinds' ? $2`,
        [chain, kind],
      ),
    ([row]) => Number(row?.count ?? 0) >= atLeast,
    { timeoutMs: 15_000, intervalMs: 100, failure: (rows) => `no auth.refusals_suppressed events on ${chain} count ${atLeast} ${kind}: ${JSON.stringify(rows)}` },
  ).then(([row]) => ({ count: Number(row!.count), sources: row!.sources }));

const login = (ip: string, body: string) =>
  fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...fromIp(ip) }, body });

describe('the REST login', () => {
  it('records each request as rest.login with its outcome, attempt-limited ones too, never the body', async () => {
    const ip = freshIp();
    const email = uniqueEmail('victim');
    const statuses = [
      (await login(ip, '{"email": ')).status,
      (await login(ip, JSON.stringify({ email: `${'a'.repeat(400)}@example.test`, password: 'x' }))).status,
    ];
    // Refused sign-ins are under their own flood limit (test/audit/refusal-flood-budgets.test.ts):
    // these, with their 2 auth.login events, are the 5 it lets through.
    for (let attempt = 0; attempt < 3; attempt++) statuses.push((await login(ip, JSON.stringify({ email, password: `guess-number-${attempt}` }))).status);
    const signedUp = await signUp(server, { tenantName: 'Login door' });
    statuses.push((await login(ip, JSON.stringify({ email: signedUp.email, password: signedUp.password }))).status);
    expect(statuses).toEqual([400, 400, 401, 401, 429, 200]);
    const events = await eventsFrom(ip, 6, 'rest.login');
    // Sorted: refused ones pass the flood limit's buckets first, and may land after later ones.
    expect(events.map((event) => event.outcome).sort()).toEqual(['BAD_REQUEST', 'BAD_USER_INPUT', 'RATE_LIMITED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'ok']);
    for (const event of events) {
      expect(event).toMatchObject({ tenantId: PLATFORM_CHAIN, actorKind: 'anonymous', actorId: null });
      expect(Object.keys(event.details)).toEqual(['durationMs']);
      expect(event.payload).not.toMatch(/guess-number|a long enough passphrase|aaaa/);
    }
  });

  it('keeps a flood of unreadable bodies within the refusal flood limit, counting the rest', async () => {
    const ip = freshIp();
    for (let i = 0; i < 8; i++) expect((await login(ip, 'not json')).status).toBe(400);
    expect((await suppressedOf('rest.login:BAD_REQUEST')).count).toBe(3);
    expect((await eventsFrom(ip, 5, 'rest.login')).map((event) => event.outcome)).toEqual(Array(5).fill('BAD_REQUEST'));
  });
});

describe('GraphQL operations refused before they ran', () => {
  const asKey = (ip: string, query: string, variables?: Record<string, unknown>) =>
    server.graphql(query, { headers: { 'x-api-key': key.secret, ...fromIp(ip) }, variables });

  it("are recorded on the caller's chain with the operation type and the code, never the document", async () => {
    const ip = freshIp();
    const aliases = `query Many { ${Array.from({ length: 300 }, (_, i) => `a${i}: viewer { kind }`).join(' ')} }`;
    const answers = [
      await asKey(ip, 'mutation Revoke { revokeApiKeyX(id: "secret-looking-argument") { id } }'),
      await asKey(ip, aliases),
      await asKey(ip, 'query { viewer { kind '),
      await asKey(ip, 'query { viewer { kind '),
      await asKey(ip, 'query Nul($text: String) { viewer { kind } }', { text: 'nul-text\u0000after' }),
    ];
    expect(answers.map((answer) => answer.body.errors?.[0]?.extensions?.code)).toEqual([
      'BAD_USER_INPUT',
      'OPERATION_LIMIT_EXCEEDED',
      'GRAPHQL_PARSE_FAILED',
      'GRAPHQL_PARSE_FAILED',
      'BAD_USER_INPUT',
    ]);
    const events = await eventsFrom(ip, 5);
    // Recorded after each answer, some once the credential is checked for the record: in any order.
    const byAction = (rows: unknown[][]) => rows.map((row) => JSON.stringify(row)).sort();
    expect(byAction(events.map((event) => [event.action, event.outcome, event.details.operationName]))).toEqual(
      byAction([
        ['graphql.mutation', 'BAD_USER_INPUT', 'Revoke'],
        ['graphql.query', 'OPERATION_LIMIT_EXCEEDED', 'Many'],
        ['graphql.document', 'GRAPHQL_PARSE_FAILED', null],
        ['graphql.document', 'GRAPHQL_PARSE_FAILED', null],
        ['graphql.query', 'BAD_USER_INPUT', 'Nul'],
      ]),
    );
    for (const event of events) {
      expect(event).toMatchObject({ tenantId: databaseIdOf(owner.tenant.id), actorKind: 'apiKey', actorId: key.id });
      expect(event.details.fields).toBeUndefined();
      expect(event.details.documentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(event.payload).not.toMatch(/secret-looking-argument|revokeApiKeyX|a299|nul-text/);
    }
  });

  it('are recorded over graphql-ws too', async () => {
    const ip = freshIp();
    const client = wsClient(server.wsUrl, { headers: fromIp(ip), token: owner.accessToken });
    try {
      expect((await wsOperation(client, 'query Typo { viewerX { kind } }')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      // A syntax error is GRAPHQL_PARSE_FAILED on both doors (Yoga codes it over HTTP, server/websocket.ts over graphql-ws).
      expect((await wsOperation(client, 'subscription {')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    } finally {
      await client.dispose();
    }
    const events = await eventsFrom(ip, 2);
    // Recorded after each answer, once the credential is checked for the record: in any order.
    expect(events.map((event) => [event.action, event.outcome, event.actorKind]).sort()).toEqual([
      ['graphql.document', 'GRAPHQL_PARSE_FAILED', 'user'],
      ['graphql.query', 'BAD_USER_INPUT', 'user'],
    ]);
  });

  it("keep an anonymous flood of invalid documents within the refusal flood limit on the platform's chain", async () => {
    const ip = freshIp();
    for (let i = 0; i < 8; i++) expect((await server.graphql('{ nothingHere }', { headers: fromIp(ip) })).status).toBe(400);
    expect((await suppressedOf('graphql.query:BAD_USER_INPUT')).count).toBe(3);
    const events = await eventsFrom(ip, 5);
    expect(events).toHaveLength(5);
    for (const event of events) expect(event).toMatchObject({ tenantId: PLATFORM_CHAIN, action: 'graphql.query', outcome: 'BAD_USER_INPUT', actorKind: 'anonymous' });
  });
});

describe("a key holder's flood of refused operations", () => {
  const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }';

  /** A fresh tenant with `readers` READ keys and an ADMIN key that has been revoked ("stolen"). */
  async function tenantWithKeys(readers: number) {
    const tenant = await signUp(server, { tenantName: 'Flooded trail' });
    const keys = [];
    for (let i = 0; i < readers; i++) keys.push((await createApiKey(server, tenant.accessToken, { name: `reader ${i}`, scopes: ['READ'] })).body.data.createApiKey);
    const stolen = (await createApiKey(server, tenant.accessToken, { name: 'stolen', scopes: ['ADMIN'] })).body.data.createApiKey;
    expect((await server.graphql(REVOKE_KEY, { token: tenant.accessToken, variables: { id: stolen.apiKey.id } })).body.data.revokeApiKey.revokedAt).toBeTruthy();
    return { tenantId: databaseIdOf(tenant.tenant.id), readers: keys as { secret: string; apiKey: { id: string } }[], stolen };
  }

  const invalid = (secret: string, ip: string) => server.graphql('{ nope }', { headers: { 'x-api-key': secret, ...fromIp(ip) } });

  /** The revoked key, 5 times from an address of its own: each refusal is on the tenant's trail. */
  async function expectStolenKeyRecorded(tenantId: string, stolen: { secret: string; apiKey: { id: string } }) {
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await server.graphql('{ viewer { kind } }', { headers: { 'x-api-key': stolen.secret, ...fromIp(ip) } })).status).toBe(401);
    const refusals = await eventsFrom(ip, 5, 'auth.credential_refused');
    expect(refusals).toHaveLength(5);
    for (const event of refusals) {
      expect(event).toMatchObject({ tenantId, action: 'auth.credential_refused', outcome: 'UNAUTHENTICATED', actorKind: 'apiKey', actorId: databaseIdOf(stolen.apiKey.id) });
      expect(event.details).toMatchObject({ credential: 'apiKey', reason: 'revoked' });
    }
  }

  const recordedOperations = (tenantId: string) =>
    ownerSql<{ actorId: string; outcome: string }>(`select actor_id as "actorId", outcome from audit_events where tenant_id = $1 and action = 'graphql.query'`, [tenantId]);

  it('from one key and many addresses is limited per caller, and leaves a revoked key its refusals', async () => {
    const { tenantId, readers, stolen } = await tenantWithKeys(1);
    const reader = readers[0]!;
    // The attacker review's repro: the READ key's free invalid documents, 5 from each of 11 addresses.
    for (let address = 0; address < 11; address++) {
      const ip = freshIp();
      for (let i = 0; i < 5; i++) expect((await invalid(reader.secret, ip)).status).toBe(400);
    }
    await expectStolenKeyRecorded(tenantId, stolen);
    // One key is one caller, from however many addresses: 5 recorded, the other 50 counted, from one source.
    const suppressed = await suppressedOf('graphql.query:BAD_USER_INPUT', { chain: tenantId, atLeast: 50 });
    expect(suppressed.count).toBe(50);
    expect(new Set(suppressed.sources)).toEqual(new Set([1]));
    const recorded = await recordedOperations(tenantId);
    expect(recorded).toEqual(Array(5).fill({ actorId: databaseIdOf(reader.apiKey.id), outcome: 'BAD_USER_INPUT' }));
  });

  it("from many keys uses up the chain's budget of refused requests, not that of refused credentials", async () => {
    const { tenantId, readers, stolen } = await tenantWithKeys(11);
    // 55 refused operations, 5 per key and address: over the chain's 50.
    for (const reader of readers) {
      const ip = freshIp();
      for (let i = 0; i < 5; i++) expect((await invalid(reader.secret, ip)).status).toBe(400);
    }
    expect((await suppressedOf('graphql.query:BAD_USER_INPUT', { chain: tenantId, atLeast: 5 })).count).toBe(5);
    await expectStolenKeyRecorded(tenantId, stolen);
    expect(await recordedOperations(tenantId)).toHaveLength(50);
  });
});

describe("an operation's documentHash", () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('is a keyed digest: not the sha256 of the document, equal for equal documents', async () => {
    const tenant = await signUp(server, { tenantName: 'Document digests' });
    const caller = (await createApiKey(server, tenant.accessToken, { name: 'caller', scopes: ['READ'] })).body.data.createApiKey;
    const ip = freshIp();
    const send = (query: string) => server.graphql(query, { headers: { 'x-api-key': caller.secret, ...fromIp(ip) } });
    const refused = 'mutation { logIn(input: { email: "someone@example.test", password: "Winter2026!" }) { nope } }';
    const refusedOther = 'mutation { logIn(input: { email: "someone@example.test", password: "Spring2026!" }) { nope } }';
    const executed = 'query Executed { viewer { kind } }';
    const statuses = [(await send(refused)).status, (await send(refused)).status, (await send(refusedOther)).status, (await send(executed)).status, (await send(executed)).status];
    expect(statuses).toEqual([400, 400, 400, 200, 200]);

    const events = await eventsFrom(ip, 5, 'graphql.%');
    const hashesOf = (outcome: string) => events.filter((event) => event.outcome === outcome).map((event) => event.details.documentHash as string);
    const refusedHashes = hashesOf('BAD_USER_INPUT');
    const executedHashes = hashesOf('ok');
    expect(refusedHashes).toHaveLength(3);
    expect(executedHashes).toHaveLength(2);
    for (const hash of [...refusedHashes, ...executedHashes]) expect(hash).toMatch(/^[0-9a-f]{64}$/);
    // Which refused event is which: the two equal documents share their digest, the other differs.
    const counts = new Map<string, number>();
    for (const hash of refusedHashes) counts.set(hash, (counts.get(hash) ?? 0) + 1);
    expect([...counts.values()].sort()).toEqual([1, 2]);
    expect(new Set(executedHashes).size).toBe(1);
    const all = new Set([...refusedHashes, ...executedHashes]);
    for (const document of [refused, refusedOther, executed]) expect(all.has(sha256(document))).toBe(false);
  });
});
