/**
 * A caller refused by a limit is refused at once, however fast it asks: an endpoint's rate_limit
 * or quota, the per-caller request limit, the key-minting limit. Each refusal once wrote its
 * rows: the operation's or door's audit event, and for an endpoint query a DENY row in the
 * endpoint's decision log with its `policy.denied` event (200 refused queries: 600 rows). They
 * now go through the refusal log's flood limit, here 5 per trail and caller every 2 s (50 per
 * trail), with the buckets' clock standing still, so counts are exact: the first 5 of each are
 * written, the rest counted in `auth.refusals_suppressed` (only the summary's timer is real).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, must, queryEndpoint, type EndpointSetup } from '../support/endpoints.js';
import { addMember, createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { createPolicy } from '../support/policies.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp, ManualClock } from '../limits/support.js';
import { databaseIdOf } from '../support/global-ids.js';

const LIMIT = 5;
const FLOOD = 200;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    clock: new ManualClock(),
    env: {
      SLUICE_TRUST_PROXY: '1',
      SLUICE_RATE_LIMITS: 'on',
      SLUICE_AUTH_FAILURE_AUDIT_LIMIT: `${LIMIT}/2s`,
      // The request limits stay out of the way but where a test sets its own.
      SLUICE_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_RATE_LIMIT_BURST: '100000',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_IP_RATE_LIMIT_BURST: '100000',
      SLUICE_SIGNUP_LIMIT_PER_IP: '100/1h',
      SLUICE_API_KEY_CREATE_LIMIT: '2/1h',
    },
  });
});
afterAll(() => server?.close());

const ownerSql = <T = Record<string, any>>(sql: string, params: unknown[] = []) =>
  withClient(server.database.ownerUrl, (client) => client.query(sql, params)).then((result) => result.rows as T[]);

const idOf = databaseIdOf;

interface Setup {
  owner: SignedUp;
  tenantId: string;
  endpoint: EndpointSetup;
  key: { secret: string; id: string };
}

/** A tenant of its own (its own trail and buckets), an endpoint over one document, and an API key. */
async function tenantWithEndpoint(name: string): Promise<Setup> {
  const owner = await signUp(server, { tenantName: name });
  const endpoint = await endpointOver(server, owner.accessToken, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates at high tide.' }]);
  const created = (await createApiKey(server, owner.accessToken, { name: 'caller', scopes: ['READ'] })).body.data.createApiKey;
  return { owner, tenantId: idOf(owner.tenant.id), endpoint, key: { secret: created.secret, id: idOf(created.apiKey.id) } };
}

/** What a flood left: DENY rows in the endpoint's log and the trail's events, by action and outcome, of one caller. */
async function rowsOf(setup: Setup, callerId: string) {
  const [denials] = await ownerSql<{ count: string }>(`select count(*) from policy_decisions where endpoint_id = $1 and decision = 'DENY' and caller_id = $2`, [
    idOf(setup.endpoint.endpointId),
    callerId,
  ]);
  const events = await ownerSql<{ kind: string; count: string }>(
    `select action || ':' || outcome as kind, count(*) from audit_events
      where tenant_id = $1 and (actor_id = $2 or (action = 'policy.denied' and payload->'details'->>'endpoint' = $3)) group by 1`,
    [setup.tenantId, callerId, idOf(setup.endpoint.endpointId)],
  );
  return { denials: Number(denials!.count), events: Object.fromEntries(events.map((row) => [row.kind, Number(row.count)])) as Record<string, number> };
}

/** The trail's summaries of suppressed refusals, kinds summed, once they count `expected` (or at the deadline). */
const suppressedOn = (tenantId: string, expected: Record<string, number>) =>
  pollUntil(
    async () => {
      const rows = await ownerSql<{ kinds: Record<string, number> }>(`select payload->'details'->'kinds' as kinds from audit_events where tenant_id = $1 and action = 'auth.refusals_suppressed'`, [
        tenantId,
      ]);
      const sums: Record<string, number> = {};
      for (const { kinds } of rows) for (const [kind, count] of Object.entries(kinds)) sums[kind] = (sums[kind] ?? 0) + count;
      return sums;
    },
    (sums) => Object.entries(expected).every(([kind, count]) => sums[kind] === count),
    { timeoutMs: 15_000, intervalMs: 100, failure: (sums) => `expected suppressed ${JSON.stringify(expected)} on ${tenantId}, found ${JSON.stringify(sums)}` },
  );

/** Waits until `read` gives `expected` (the audit writer is asynchronous), then compares. */
async function expectRows(read: () => ReturnType<typeof rowsOf>, expected: Awaited<ReturnType<typeof rowsOf>>) {
  const found = await pollUntil(read, (rows) => JSON.stringify(sortedRows(rows)) === JSON.stringify(sortedRows(expected)), {
    timeoutMs: 10_000,
    intervalMs: 100,
    failure: (rows) => `expected ${JSON.stringify(expected)}, found ${JSON.stringify(rows)}`,
  });
  expect(sortedRows(found)).toEqual(sortedRows(expected));
}
const sortedRows = (rows: Awaited<ReturnType<typeof rowsOf>>) => ({ denials: rows.denials, events: Object.fromEntries(Object.entries(rows.events).sort()) });

/** `count` requests, ten at a time; each must be refused with RATE_LIMITED. */
async function refusedTimes(count: number, send: () => Promise<string | undefined>) {
  const codes: (string | undefined)[] = [];
  for (let sent = 0; sent < count; sent += 10) codes.push(...(await Promise.all(Array.from({ length: Math.min(10, count - sent) }, send))));
  expect(codes).toEqual(Array(count).fill('RATE_LIMITED'));
}

// Two hundred requests each, on two cores: more than the default 30 s where each was a write.
describe('an endpoint policy refusing a caller at its limit', { timeout: 90_000 }, () => {
  it('over GraphQL: each refusal is written up to the flood limit, the rest counted exactly', async () => {
    const setup = await tenantWithEndpoint('Policy flood');
    await createPolicy(server, setup.owner.accessToken, setup.endpoint.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 3600, scope: 'per_user' });
    const ip = freshIp();
    const ask = async () =>
      (await server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }', { headers: { 'x-api-key': setup.key.secret, ...fromIp(ip) }, variables: { e: setup.endpoint.reference } }))
        .body.errors?.[0]?.extensions?.code as string | undefined;
    expect(await ask()).toBeUndefined();

    // Below the limit, each refusal is written whole.
    await refusedTimes(3, ask);
    const below = { 'endpoint.query:ok': 1, 'graphql.query:RATE_LIMITED': 3, 'graphql.query:ok': 1, 'policy.denied:RATE_LIMITED': 3 };
    await expectRows(() => rowsOf(setup, setup.key.id), { denials: 3, events: below });

    await refusedTimes(FLOOD - 3, ask);
    const slug = setup.endpoint.reference.split('/')[1];
    await expectRows(() => rowsOf(setup, setup.key.id), { denials: LIMIT, events: { 'endpoint.query:ok': 1, 'graphql.query:RATE_LIMITED': LIMIT, 'graphql.query:ok': 1, 'policy.denied:RATE_LIMITED': LIMIT } });
    await suppressedOn(setup.tenantId, { 'graphql.query:RATE_LIMITED': FLOOD - LIMIT, [`policy.denied:${slug}:RATE_LIMIT`]: FLOOD - LIMIT });
  });

  it('over REST, a quota: the rest.query events and the decision rows alike', async () => {
    const setup = await tenantWithEndpoint('Quota flood');
    await createPolicy(server, setup.owner.accessToken, setup.endpoint.endpointId, 'accounting', { flatMicros: 1000, quota: 1000, periodSeconds: 3600 });
    const ip = freshIp();
    const ask = async () => {
      const response = await fetch(`${server.baseUrl}/api/v1/endpoints/${setup.endpoint.reference}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': setup.key.secret, ...fromIp(ip) },
        body: JSON.stringify({ query: 'lock keeper' }),
      });
      const body = (await response.json()) as { code?: string };
      return response.status === 200 ? undefined : body.code;
    };
    expect(await ask()).toBeUndefined();
    await refusedTimes(FLOOD, ask);
    const slug = setup.endpoint.reference.split('/')[1];
    await expectRows(() => rowsOf(setup, setup.key.id), { denials: LIMIT, events: { 'endpoint.query:ok': 1, 'rest.query:RATE_LIMITED': LIMIT, 'rest.query:ok': 1, 'policy.denied:RATE_LIMITED': LIMIT } });
    await suppressedOn(setup.tenantId, { 'rest.query:RATE_LIMITED': FLOOD - LIMIT, [`policy.denied:${slug}:QUOTA`]: FLOOD - LIMIT });
  });
});

describe('the per-caller request limit', { timeout: 90_000 }, () => {
  it('writes at most the flood limit of decision rows for a flood of refused endpoint queries', async () => {
    const setup = await tenantWithEndpoint('Caller limit flood');
    // The last setup step: from here each of the tenant's callers has one request, never refilled.
    await must(server, setup.owner.accessToken, 'mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: 1 }) { id } }');
    const ip = freshIp();
    const ask = async () =>
      (await server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }', { headers: { 'x-api-key': setup.key.secret, ...fromIp(ip) }, variables: { e: setup.endpoint.reference } }))
        .body.errors?.[0]?.extensions?.code as string | undefined;
    expect(await ask()).toBeUndefined();
    await refusedTimes(FLOOD, ask);
    const slug = setup.endpoint.reference.split('/')[1];
    // Refused before it ran, the operation has no event of its own (as before): its refusal is the decision.
    await expectRows(() => rowsOf(setup, setup.key.id), { denials: LIMIT, events: { 'endpoint.query:ok': 1, 'graphql.query:ok': 1, 'policy.denied:RATE_LIMITED': LIMIT } });
    await suppressedOn(setup.tenantId, { [`policy.denied:${slug}:CALLER_RATE_LIMIT`]: FLOOD - LIMIT });
  });
});

describe('a mutation refused by its own limit', { timeout: 90_000 }, () => {
  it('createApiKey over the key-minting limit: its graphql.mutation events are limited and counted', async () => {
    const owner = await signUp(server, { tenantName: 'Key minting flood' });
    const tenantId = idOf(owner.tenant.id);
    const mint = async () => (await createApiKey(server, owner.accessToken, { name: 'more', scopes: ['READ'] })).body.errors?.[0]?.extensions?.code as string | undefined;
    expect([await mint(), await mint()]).toEqual([undefined, undefined]);
    await refusedTimes(FLOOD, mint);
    const refused = () =>
      ownerSql<{ count: string }>(`select count(*) from audit_events where tenant_id = $1 and action = 'graphql.mutation' and outcome = 'RATE_LIMITED'`, [tenantId]).then(([row]) => Number(row!.count));
    expect(await pollUntil(refused, (count) => count >= LIMIT, { timeoutMs: 10_000, intervalMs: 100, failure: (count) => `${count} events` })).toBe(LIMIT);
    await suppressedOn(tenantId, { 'graphql.mutation:RATE_LIMITED': FLOOD - LIMIT });
  });
});

describe("other callers' floods", { timeout: 120_000 }, () => {
  // The trail's own budget is ten callers' worth (50 here): ten callers, each at its own limit of
  // 5, used it up, and a caller refused after them had its first denial counted, not written.
  it("leave an authenticated caller its own first refusals written: the trail's budget is not theirs to use up", async () => {
    const setup = await tenantWithEndpoint('Crowded trail');
    await createPolicy(server, setup.owner.accessToken, setup.endpoint.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 3600, scope: 'per_user' });
    const askAs = (token: string, ip: string) => async () =>
      (await server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }', { token, headers: fromIp(ip), variables: { e: setup.endpoint.reference } }))
        .body.errors?.[0]?.extensions?.code as string | undefined;
    // One after another: ten sign-ups at once (a password hash each) ran past a busy machine's limits.
    const others: Awaited<ReturnType<typeof addMember>>[] = [];
    for (let n = 0; n < 10; n++) others.push(await addMember(server, setup.owner.accessToken, 'MEMBER'));
    await Promise.all(
      others.map(async (other) => {
        const ask = askAs(other.accessToken, freshIp());
        expect(await ask()).toBeUndefined();
        await refusedTimes(LIMIT + 1, ask);
      }),
    );
    const victim = await addMember(server, setup.owner.accessToken, 'MEMBER');
    const ask = askAs(victim.accessToken, freshIp());
    expect(await ask()).toBeUndefined();
    await refusedTimes(1, ask);
    // The victim's own rows (rowsOf counts every caller's policy.denied of the endpoint).
    const victimId = idOf(victim.user.id);
    const victimRows = async () => {
      const [denials] = await ownerSql<{ count: string }>(`select count(*) from policy_decisions where endpoint_id = $1 and decision = 'DENY' and caller_id = $2`, [idOf(setup.endpoint.endpointId), victimId]);
      const events = await ownerSql<{ kind: string; count: string }>(`select action || ':' || outcome as kind, count(*) from audit_events where tenant_id = $1 and actor_id = $2 and (action like '%.query' or action = 'policy.denied') group by 1`, [setup.tenantId, victimId]);
      return { denials: Number(denials!.count), events: Object.fromEntries(events.map((row) => [row.kind, Number(row.count)])) as Record<string, number> };
    };
    await expectRows(victimRows, { denials: 1, events: { 'endpoint.query:ok': 1, 'graphql.query:RATE_LIMITED': 1, 'graphql.query:ok': 1, 'policy.denied:RATE_LIMITED': 1 } });
  });
});
