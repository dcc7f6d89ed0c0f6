/**
 * An MCP batch carries several calls in one HTTP request, and its `mcp.request` event kept one
 * outcome, the last message's to set it: a batch whose first call ran and whose second was
 * refused by a limit was audited RATE_LIMITED, and went through the refusal flood limit (here 5
 * per caller an hour, the buckets' clock moved only by the test), so of 20 batches that each
 * ran a query 5 events were left. Each message's outcome is now kept, and only a batch every
 * message of which was refused by a limit goes to the flood limit, as a GraphQL operation every
 * root field of which was (plugins/audit.ts, test/audit/limited-refusal-partial.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, must, type EndpointSetup } from '../support/endpoints.js';
import { createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { createPolicy } from '../support/policies.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ManualClock } from '../limits/support.js';
import { databaseIdOf } from '../support/global-ids.js';

const LIMIT = 5;
const BATCHES = 20;
const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates at high tide.' }];

let server: TestServer;
const clock = new ManualClock();

beforeAll(async () => {
  server = await startTestServer({
    clock,
    env: {
      SLUICE_RATE_LIMITS: 'on',
      // An hour's period: the seconds the per-caller test moves the clock refill none of it.
      SLUICE_AUTH_FAILURE_AUDIT_LIMIT: `${LIMIT}/1h`,
      SLUICE_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_RATE_LIMIT_BURST: '100000',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_IP_RATE_LIMIT_BURST: '100000',
    },
  });
});
afterAll(() => server?.close());

const ownerSql = <T = Record<string, any>>(sql: string, params: unknown[] = []) =>
  withClient(server.database.ownerUrl, (client) => client.query(sql, params)).then((result) => result.rows as T[]);

interface Setup {
  owner: SignedUp;
  tenantId: string;
  endpoint: EndpointSetup;
}

async function tenantWithEndpoint(name: string): Promise<Setup> {
  const owner = await signUp(server, { tenantName: name });
  return { owner, tenantId: databaseIdOf(owner.tenant.id), endpoint: await endpointOver(server, owner.accessToken, DOCS) };
}

async function apiKey(setup: Setup): Promise<{ secret: string; id: string }> {
  const created = (await createApiKey(server, setup.owner.accessToken, { name: 'caller', scopes: ['READ'] })).body.data.createApiKey;
  return { secret: created.secret, id: databaseIdOf(created.apiKey.id) };
}

const search = (endpoint: EndpointSetup) => ({ method: 'tools/call', params: { name: `search_${endpoint.reference.split('/')[1]}`, arguments: { query: 'lock keeper' } } });

/** A JSON-RPC batch to `/mcp`: each answer's code (`ok`, or its tool error's or JSON-RPC error's code) in message order. */
async function batch(secret: string, messages: Record<string, unknown>[]): Promise<string[]> {
  const response = await fetch(new URL('/mcp', server.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', 'x-api-key': secret },
    body: JSON.stringify(messages.map((message, index) => ({ jsonrpc: '2.0', id: index, ...message }))),
  });
  expect(response.status).toBe(200);
  const text = await response.text();
  const answers: any[] = response.headers.get('content-type')?.includes('text/event-stream')
    ? text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)))
    : [JSON.parse(text)].flat();
  return answers
    .sort((a, b) => a.id - b.id)
    .map((answer) => (answer.error ? answer.error.data?.code : answer.result.isError ? answer.result.structuredContent.error.code : 'ok'));
}

/** The caller's events on the trail, counted by `action:outcome`, with each `mcp.request`'s `details.outcomes`; once they are `expected`. */
async function eventsOf(setup: Setup, callerId: string, expected: Record<string, number>) {
  const read = async () => {
    const rows = await ownerSql<{ kind: string; outcomes: string[] | null }>(
      `select action || ':' || outcome as kind, payload->'details'->'outcomes' as outcomes from audit_events
        where tenant_id = $1 and actor_id = $2 and action in ('mcp.request', 'endpoint.query')`,
      [setup.tenantId, callerId],
    );
    const counts: Record<string, number> = {};
    for (const row of rows) counts[row.kind] = (counts[row.kind] ?? 0) + 1;
    return { counts, outcomes: rows.filter((row) => row.kind.startsWith('mcp.request:')).map((row) => JSON.stringify(row.outcomes)) };
  };
  const sorted = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).sort());
  const found = await pollUntil(read, ({ counts }) => JSON.stringify(sorted(counts)) === JSON.stringify(sorted(expected)), {
    timeoutMs: 15_000,
    intervalMs: 100,
    failure: ({ counts }) => `expected ${JSON.stringify(expected)}, found ${JSON.stringify(counts)}`,
  });
  expect(sorted(found.counts)).toEqual(sorted(expected));
  return found.outcomes;
}

describe('an MCP batch with a call that ran and one refused by a limit', { timeout: 90_000 }, () => {
  it('refused by the per-caller limit: each batch is an mcp.request event, with both outcomes', async () => {
    const setup = await tenantWithEndpoint('MCP batch caller limit');
    const key = await apiKey(setup);
    // The last setup step: one request a second for the tenant's callers, the clock moved a second a batch.
    await must(server, setup.owner.accessToken, 'mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: 1 }) { id } }');
    for (let sent = 0; sent < BATCHES; sent += 1) {
      clock.advance(1000);
      expect(await batch(key.secret, [search(setup.endpoint), search(setup.endpoint)])).toEqual(['ok', 'RATE_LIMITED']);
    }
    // Before: 5 mcp.request events, the other 15 batches (and their queries) only counted.
    const outcomes = await eventsOf(setup, key.id, { 'endpoint.query:ok': BATCHES, 'mcp.request:RATE_LIMITED': BATCHES });
    expect(outcomes).toEqual(Array(BATCHES).fill(JSON.stringify(['ok', 'RATE_LIMITED'])));
  });

  it("refused by an endpoint's rate_limit: recorded in full; a batch every call of which was refused still goes to the flood limit", async () => {
    const setup = await tenantWithEndpoint('MCP batch policy limit');
    const limited = await endpointOver(server, setup.owner.accessToken, DOCS);
    await createPolicy(server, setup.owner.accessToken, limited.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 3600, scope: 'per_user' });
    const [key, other] = [await apiKey(setup), await apiKey(setup)];
    // Each caller's one query of the limited endpoint.
    for (const caller of [key, other]) expect(await batch(caller.secret, [search(limited)])).toEqual(['ok']);

    for (let sent = 0; sent < BATCHES; sent += 1) expect(await batch(key.secret, [search(setup.endpoint), search(limited)])).toEqual(['ok', 'RATE_LIMITED']);
    const outcomes = await eventsOf(setup, key.id, { 'endpoint.query:ok': BATCHES + 1, 'mcp.request:ok': 1, 'mcp.request:RATE_LIMITED': BATCHES });
    expect(outcomes.toSorted()).toEqual([JSON.stringify(['ok']), ...Array(BATCHES).fill(JSON.stringify(['ok', 'RATE_LIMITED']))].toSorted());

    // Nothing ran: the flood limit's 5 are written, the rest counted.
    for (let sent = 0; sent < BATCHES; sent += 1) expect(await batch(other.secret, [search(limited), search(limited)])).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    await eventsOf(setup, other.id, { 'endpoint.query:ok': 1, 'mcp.request:ok': 1, 'mcp.request:RATE_LIMITED': LIMIT });
  });
});
