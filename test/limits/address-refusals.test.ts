/**
 * The per-address request limit (SLUICE_IP_RATE_LIMIT_*) refuses a flood before a request is
 * read. Issue 20: an endpoint's decision log still says that a caller was refused by it, with
 * the rule; once per address and minute, never once per refused request (a flood must not
 * write a flood of rows). Over the REST query, OpenAI chat and GraphQL.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, must, type EndpointSetup } from '../support/endpoints.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

const BURST = 40;
const RULE = `0.001 requests per second per address (bursts of ${BURST})`;

let server: TestServer;
let partner: SeededTenant;
let partnerToken: string;
let endpoint: EndpointSetup;
let ownerToken: string;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      // X-Forwarded-For names the client: each case floods from an address of its own, while
      // the owner's setup and reads come from the server's own address.
      SLUICE_TRUST_PROXY: '1',
      SLUICE_RATE_LIMITS: 'on',
      // A bucket that does not refill within the test: its burst, then refusals.
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '0.001',
      SLUICE_IP_RATE_LIMIT_BURST: String(BURST),
      SLUICE_RATE_LIMIT_PER_SECOND: '100000',
      SLUICE_RATE_LIMIT_BURST: '1000000',
    },
  });
  const acme = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }] });
  partner = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }] });
  const owner = await server.tokenFor(acme, acme.users[0]!);
  partnerToken = await server.tokenFor(partner, partner.users[0]!);
  endpoint = await endpointOver(server, owner, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }], { published: true });
  ownerToken = owner;
});
afterAll(async () => {
  await server?.close();
});

/** Spends an address's whole burst on a request that costs nothing (the OpenAPI document). */
async function exhaust(address: string): Promise<void> {
  for (let sent = 0; sent < BURST; sent += 1) {
    const response = await fetch(`${server.baseUrl}/api/v1/openapi.json`, { headers: { 'x-forwarded-for': address } });
    await response.arrayBuffer();
    expect(response.status).toBe(200);
  }
}

async function addressDenials() {
  const data = await must(server, ownerToken, 'query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision rule reasonCode callerTenantId callerKind retryAfterSeconds } } } }', {
    f: { endpointId: endpoint.endpointId },
  });
  return data.policyDecisions.edges.map((edge: { node: Record<string, unknown> }) => edge.node).filter((node: { reasonCode: string }) => node.reasonCode === 'ADDRESS_RATE_LIMIT');
}

const expectedDenial = () => ({ decision: 'DENY', rule: RULE, reasonCode: 'ADDRESS_RATE_LIMIT', callerTenantId: partner.id, callerKind: 'user', retryAfterSeconds: expect.any(Number) });

const restQuery = (address: string) =>
  fetch(`${server.baseUrl}/api/v1/endpoints/${endpoint.reference}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${partnerToken}`, 'x-forwarded-for': address },
    body: JSON.stringify({ query: 'lock keeper' }),
  });

it('records the first refusal of an address per minute on the REST query, and answers every refusal 429', async () => {
  const address = '198.51.100.11';
  await exhaust(address);
  const before = (await addressDenials()).length;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const refused = await restQuery(address);
    // The recorded one is answered by the route, the rest before any route runs: the same
    // problem details either way, as the REST routes' clients read errors.
    const problem = await refused.json();
    expect({ status: refused.status, type: refused.headers.get('content-type'), code: problem.code, reason: problem.reason, retryAfter: Number(refused.headers.get('retry-after')) > 0 }).toEqual({
      status: 429,
      type: 'application/problem+json; charset=utf-8',
      code: 'RATE_LIMITED',
      reason: 'ADDRESS_RATE_LIMIT',
      retryAfter: true,
    });
  }
  const denials = await addressDenials();
  expect(denials.slice(before)).toEqual([expectedDenial()]);
});

it('records it on GraphQL queryEndpoint and OpenAI chat too, for the endpoint each names', async () => {
  const graphqlAddress = '198.51.100.12';
  await exhaust(graphqlAddress);
  const before = (await addressDenials()).length;
  const refused = await server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }', {
    token: partnerToken,
    variables: { e: endpoint.reference },
    headers: { 'x-forwarded-for': graphqlAddress },
  });
  expect([refused.status, refused.body.errors?.[0]?.extensions?.code]).toEqual([429, 'RATE_LIMITED']);
  expect((await addressDenials()).slice(before)).toEqual([expectedDenial()]);

  const openaiAddress = '198.51.100.13';
  await exhaust(openaiAddress);
  const chat = await fetch(`${server.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${partnerToken}`, 'x-forwarded-for': openaiAddress },
    body: JSON.stringify({ model: endpoint.reference, messages: [{ role: 'user', content: 'lock keeper' }] }),
  });
  expect(chat.status).toBe(429);
  expect((await chat.json()).error).toMatchObject({ code: 'RATE_LIMITED' });
  expect((await addressDenials()).slice(before)).toEqual([expectedDenial(), expectedDenial()]);
  // The next refusal of that address, answered before the route runs, in OpenAI's shape too.
  const again = await fetch(`${server.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${partnerToken}`, 'x-forwarded-for': openaiAddress } });
  expect([again.status, (await again.json()).error?.code]).toEqual([429, 'RATE_LIMITED']);
});

it('lets no refused request through: a path that asks no endpoint is refused at once and nothing is recorded', async () => {
  const address = '198.51.100.14';
  await exhaust(address);
  const before = (await addressDenials()).length;
  const catalog = await fetch(`${server.baseUrl}/api/v1/endpoints`, { headers: { 'x-forwarded-for': address } });
  expect(catalog.status).toBe(429);
  expect(await catalog.json()).toMatchObject({ code: 'RATE_LIMITED', reason: 'ADDRESS_RATE_LIMIT' });
  expect((await addressDenials()).length).toBe(before);
});
