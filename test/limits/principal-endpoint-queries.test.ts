/**
 * The per-principal limit charges a GraphQL operation one request per endpoint query it asks,
 * all or nothing. It once took one token per operation, however many aliased `queryEndpoint`
 * fields the operation held: with a burst of 1, `{ a0: queryEndpoint(…) … a14: … }` had all
 * 15 answered, while the MCP route charges each call of a batch. Over the real server, on a
 * clock the test moves (refills are exact, nothing sleeps).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, must, usageOutcomes, type EndpointSetup } from '../support/endpoints.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp, ManualClock } from './support.js';

const BURST = 3;
const ASK = 'queryEndpoint(endpoint: $e, query: $q) { answer }';
const VARIABLES_DEFINITION = '($e: String!, $q: String!)';

/** An operation asking the endpoint `n` times, each an aliased root field. */
const aliased = (n: number) => `query${VARIABLES_DEFINITION} { ${Array.from({ length: n }, (_, i) => `a${i}: ${ASK}`).join(' ')} }`;

/** The same `n` queries reached only through a named fragment spread and an inline fragment on the root. */
const throughFragments = (n: number) => {
  const asks = Array.from({ length: n }, (_, i) => `f${i}: ${ASK}`);
  const half = Math.ceil(n / 2);
  return `query${VARIABLES_DEFINITION} { ...Asks ... on Query { ${asks.slice(half).join(' ')} } }
fragment Asks on Query { ${asks.slice(0, half).join(' ')} }`;
};

const clock = new ManualClock();
let server: TestServer;
let tenant: SeededTenant;
let ownerToken: string;
let endpoint: EndpointSetup;

beforeAll(async () => {
  server = await startTestServer({
    clock,
    env: {
      SLUICE_RATE_LIMITS: 'on',
      SLUICE_TRUST_PROXY: '1',
      // The server defaults stay out of the way of the setup; the tenant's override below is the limit tested.
      SLUICE_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_RATE_LIMIT_BURST: '100000',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_IP_RATE_LIMIT_BURST: '100000',
    },
  });
  tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }, { role: 'MEMBER' }] });
  ownerToken = await server.tokenFor(tenant, tenant.users[0]!);
  endpoint = await endpointOver(server, ownerToken, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates at high tide.' }]);
  await must(server, ownerToken, `mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: ${BURST} }) { id } }`);
});
afterAll(() => server?.close());

async function ask(token: string, query: string, ip: string) {
  return server.graphql(query, { token, headers: fromIp(ip), variables: { e: endpoint.reference, q: 'lock keeper' } });
}

async function callerDenials(): Promise<number> {
  const data = await must(server, ownerToken, 'query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision reasonCode } } } }', {
    f: { endpointId: endpoint.endpointId },
  });
  return data.policyDecisions.edges.filter((edge: { node: { decision: string; reasonCode: string } }) => edge.node.decision === 'DENY' && edge.node.reasonCode === 'CALLER_RATE_LIMIT').length;
}

/** An operation over the burst is refused whole; one at the burst is answered in full and empties the bucket. */
async function chargesEachQuery(userIndex: number, operation: (n: number) => string, keys: (n: number) => string[]) {
  clock.advance(60_000);
  const token = await server.tokenFor(tenant, tenant.users[userIndex]!);
  const ip = freshIp();
  const usageBefore = (await usageOutcomes(server.database, endpoint.endpointId)).length;
  const denialsBefore = await callerDenials();

  const over = await ask(token, operation(BURST + 1), ip);
  expect(over.status).toBe(429);
  expect(over.body.data ?? null).toBeNull();
  expect(over.body.errors).toHaveLength(1);
  expect(over.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
  expect(over.body.errors[0].message).toMatch(/counts as 4 requests .* allows 3 at once/);
  // Nothing ran: no query was recorded, and the refusal is in the endpoint's decision log as before.
  expect(await usageOutcomes(server.database, endpoint.endpointId)).toHaveLength(usageBefore);
  expect(await callerDenials()).toBe(denialsBefore + 1);

  // The refused operation took nothing: the whole burst is still there for one of 3 queries.
  const within = await ask(token, operation(BURST), ip);
  expect(within.status).toBe(200);
  expect(within.body.errors).toBeUndefined();
  expect(Object.keys(within.body.data).sort()).toEqual(keys(BURST));
  for (const result of Object.values(within.body.data)) expect((result as { answer: string }).answer).toMatch(/lock keeper/i);
  expect(await usageOutcomes(server.database, endpoint.endpointId, usageBefore + BURST)).toHaveLength(usageBefore + BURST);

  // Those 3 queries emptied the bucket: the next operation, even one asking nothing, waits.
  const next = await server.graphql('{ viewer { kind } }', { token, headers: fromIp(ip) });
  expect(next.status).toBe(429);
  expect(next.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
}

describe('per principal, an operation asking several endpoint queries', () => {
  it('costs one request per aliased queryEndpoint field, taken all or nothing', async () => {
    await chargesEachQuery(1, aliased, (n) => Array.from({ length: n }, (_, i) => `a${i}`).sort());
  });

  it('counts queryEndpoint fields reached through fragment spreads and inline fragments the same', async () => {
    await chargesEachQuery(2, throughFragments, (n) => Array.from({ length: n }, (_, i) => `f${i}`).sort());
  });
});
