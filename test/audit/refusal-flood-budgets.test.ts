/**
 * What a flood of refusals cannot do to the audit trail (an attacker review): a refused
 * sign-in (a wrong password, an attempt over the attempt limits), over the REST login and the
 * `logIn` mutation alike, is under the refusal flood limit per address, as refused credentials
 * are (until then each one was written: 45 rows for 40 attempts from one address); and wrong
 * secrets sent under a key's shown prefix, which anyone who saw the prefix can send from as
 * many addresses as they hold, cannot use up the budget of the refusals that prove a real
 * credential (a revoked key used from elsewhere, or from the flooding address itself).
 *
 * The flood limit here is 5 per chain and address (50 per chain) every 2 s, and the buckets'
 * clock stands still, so counts are exact however slow the machine: only the summary's timer is
 * real. The audit writer is asynchronous: every read waits for the events it expects.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { PLATFORM_CHAIN } from '../../src/domains/audit/audit-log.js';
import { createApiKey, signUp, tenantIdOf, uniqueEmail } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp, ManualClock } from '../limits/support.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ clock: new ManualClock(), env: { SLUICE_TRUST_PROXY: '1', SLUICE_RATE_LIMITS: 'on', SLUICE_AUTH_FAILURE_AUDIT_LIMIT: '5/2s' } });
});
afterAll(() => server?.close());

const ownerSql = <T = Record<string, any>>(sql: string, params: unknown[] = []) =>
  withClient(server.database.ownerUrl, (client) => client.query(sql, params)).then((result) => result.rows as T[]);

type Row = { tenantId: string; action: string; outcome: string; actorId: string | null; reason: string | null; ip: string };
const rowsWhere = (condition: string, params: unknown[]) =>
  ownerSql<Row>(
    `select tenant_id as "tenantId", action, outcome, actor_id as "actorId", payload->'details'->>'reason' as reason, personal->>'ip' as ip
       from audit_events where ${condition}`,
    params,
  );

/** The events from these addresses, once there are at least `atLeast`. */
const eventsFrom = (ips: string[], atLeast: number, action = '%') =>
  pollUntil(
    () => rowsWhere(`personal->>'ip' = any($1) and action like $2`, [ips, action]),
    (rows) => rows.length >= atLeast,
    { timeoutMs: 15_000, intervalMs: 50, failure: (rows) => `expected ${atLeast} ${action} events from ${ips.join(', ')}, found ${JSON.stringify(rows)}` },
  );

/** How many `kinds` a chain's summaries of suppressed refusals count, once it is at least `atLeast`. */
const suppressedOf = (kinds: string[], atLeast: number, chain = PLATFORM_CHAIN) =>
  pollUntil(
    async () => {
      const rows = await ownerSql<{ kinds: Record<string, number> }>(`select payload->'details'->'kinds' as kinds from audit_events where tenant_id = $1 and action = 'auth.refusals_suppressed'`, [chain]);
      return rows.reduce((sum, row) => sum + kinds.reduce((count, kind) => count + (row.kinds[kind] ?? 0), 0), 0);
    },
    (count) => count >= atLeast,
    { timeoutMs: 20_000, intervalMs: 100, failure: (count) => `expected ${atLeast} suppressed ${kinds.join(', ')} on ${chain}, found ${count}` },
  );

const restLogIn = (ip: string, body: Record<string, string>) =>
  fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...fromIp(ip) }, body: JSON.stringify(body) });
const graphqlLogIn = (ip: string, input: Record<string, string>) =>
  server.graphql('mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }', { headers: fromIp(ip), variables: { input } });

describe('refused sign-ins', () => {
  it('are kept to the flood limit per address over both doors, the rest counted; another address is still recorded', async () => {
    const account = await signUp(server, { tenantName: 'Guessed at' });
    const [restIp, graphqlIp, otherIp] = [freshIp(), freshIp(), freshIp()];
    const restStatuses: number[] = [];
    const graphqlCodes: string[] = [];
    // One after another, so which five events of each flood pass the limit is the same every run.
    for (let attempt = 0; attempt < 40; attempt++) {
      restStatuses.push((await restLogIn(restIp, { email: account.email, password: `guess ${attempt}` })).status);
      graphqlCodes.push((await graphqlLogIn(graphqlIp, { email: account.email, password: `guess ${attempt}` })).body.errors?.[0]?.extensions?.code);
    }
    // The attempt limits (5 per email and address) answer; their refusals are refused sign-ins too.
    expect(restStatuses).toEqual([...Array(5).fill(401), ...Array(35).fill(429)]);
    expect(graphqlCodes).toEqual([...Array(5).fill('UNAUTHENTICATED'), ...Array(35).fill('RATE_LIMITED')]);

    // Each flood is 45 events (5 wrong passwords, each auth.login and its door's, and 35 door
    // events RATE_LIMITED): 5 written per address, 40 counted, on the platform's chain.
    const kinds = ['auth.login:UNAUTHENTICATED', 'rest.login:UNAUTHENTICATED', 'rest.login:RATE_LIMITED', 'graphql.mutation:UNAUTHENTICATED', 'graphql.mutation:RATE_LIMITED'];
    expect(await suppressedOf(kinds, 80)).toBe(80);
    const written = await eventsFrom([restIp, graphqlIp], 10);
    expect(written).toHaveLength(10);
    for (const event of written) {
      expect(event.tenantId).toBe(PLATFORM_CHAIN);
      expect(kinds).toContain(`${event.action}:${event.outcome}`);
    }
    expect(written.filter((event) => event.ip === restIp)).toHaveLength(5);

    // Another address's wrong password is its own: both its events are written.
    expect((await restLogIn(otherIp, { email: account.email, password: 'one honest typo' })).status).toBe(401);
    const other = await eventsFrom([otherIp], 2);
    expect(new Set(other.map((event) => `${event.action}:${event.outcome}`))).toEqual(new Set(['auth.login:UNAUTHENTICATED', 'rest.login:UNAUTHENTICATED']));
  });

  it('within the limit are all recorded, and a sign-in that succeeds is never limited', async () => {
    const account = await signUp(server, { tenantName: 'Signs in' });
    const ip = freshIp();
    expect((await graphqlLogIn(ip, { email: uniqueEmail('nobody'), password: 'whatever it is' })).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await restLogIn(ip, { email: account.email, password: account.password })).status).toBe(200);
    const events = await eventsFrom([ip], 4);
    expect(new Set(events.map((event) => `${event.tenantId === PLATFORM_CHAIN ? 'platform' : 'tenant'} ${event.action}:${event.outcome}`))).toEqual(
      new Set(['platform auth.login:UNAUTHENTICATED', 'platform graphql.mutation:UNAUTHENTICATED', 'platform rest.login:ok', 'tenant auth.login:ok']),
    );
  });
});

describe("wrong secrets under a key's shown prefix", () => {
  const VIEWER = '{ viewer { kind } }';
  const present = (secret: string, ip: string) => server.graphql(VIEWER, { headers: { 'x-api-key': secret, ...fromIp(ip) } });
  /** Another secret with the same shown prefix as `secret`: what anyone who saw the prefix can send. */
  const wrongSecretFor = (secret: string) => `${secret.slice(0, 12)}${randomBytes(32).toString('base64url').slice(0, 35)}`;

  it("cannot use up the budget of a revoked key's refusals, from other addresses nor from the flooding one", async () => {
    const owner = await signUp(server, { tenantName: 'Prefix seen' });
    const tenantId = tenantIdOf(owner);
    const seen = (await createApiKey(server, owner.accessToken, { name: 'prefix seen', scopes: ['READ'] })).body.data.createApiKey;
    const stolen = (await createApiKey(server, owner.accessToken, { name: 'stolen', scopes: ['READ'] })).body.data.createApiKey;
    await server.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { token: owner.accessToken, variables: { id: stolen.apiKey.id } });

    // 12 attacking addresses, 5 wrong secrets each, and 20 more from the first: over the chain's 50.
    const attackers = Array.from({ length: 12 }, () => freshIp());
    for (const ip of attackers) for (let i = 0; i < 5; i++) expect((await present(wrongSecretFor(seen.secret), ip)).status).toBe(401);
    for (let i = 0; i < 20; i++) expect((await present(wrongSecretFor(seen.secret), attackers[0]!)).status).toBe(401);
    const flood = await eventsFrom(attackers, 50, 'auth.credential_refused');
    expect(await suppressedOf(['auth.credential_refused:apiKey:wrong-secret'], 30, tenantId)).toBe(30);

    // The revoked key, from an address of its own and from the first attacker's: both recorded.
    const elsewhere = freshIp();
    expect((await present(stolen.secret, elsewhere)).status).toBe(401);
    expect((await present(stolen.secret, attackers[0]!)).status).toBe(401);
    const revoked = await pollUntil(
      () => rowsWhere(`tenant_id = $1 and action = 'auth.credential_refused' and payload->'details'->>'reason' = 'revoked'`, [tenantId]),
      (rows) => rows.length >= 2,
      { timeoutMs: 15_000, intervalMs: 50, failure: (rows) => `expected the revoked key's 2 refusals on the tenant's chain, found ${JSON.stringify(rows)}` },
    );
    const stolenId = databaseIdOf(stolen.apiKey.id);
    expect(new Set(revoked.map((event) => `${event.actorId} ${event.ip}`))).toEqual(new Set([`${stolenId} ${elsewhere}`, `${stolenId} ${attackers[0]}`]));

    // The flood itself stays bounded: the chain's 50 wrong secrets, nothing more.
    const seenId = databaseIdOf(seen.apiKey.id);
    expect(flood.filter((event) => event.reason === 'wrong-secret' && event.actorId === seenId)).toHaveLength(50);
    expect(await eventsFrom(attackers, 50, 'auth.credential_refused')).toHaveLength(51);
  });
});
