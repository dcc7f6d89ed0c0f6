/**
 * The process's reserve of answer places (SLUICE_ANSWERS_RESERVE, SLUICE_ANSWERS_GUARANTEED_PER_TENANT).
 * Tenants cost nothing (sign-up is open), and the per-tenant shares alone let four self-made
 * tenants, each asking its own endpoints on a slow model it hosts, hold every place of the
 * process: every other tenant was refused, on its own private endpoint on the built-in model
 * too (attacker review, December). Now the last places go only to tenants involved in fewer than
 * their guaranteed number, asking and serving counted together; an anonymous caller's place is
 * its endpoint's tenant's (a later review filled the reserve with anonymous callers from two
 * addresses, or with one tenant asking its own endpoint while an anonymous caller asked it too).
 * Real server and PostgreSQL; the slow model is the fake model server holding its answers until
 * released; anonymous callers' addresses set through a trusted proxy.
 *
 * Scaled down: 8 places, a reserve of 2 (a quarter), 2 per tenant and per caller, 1 guaranteed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, must, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { answersInProgress, heldAnswered, holdAnswers } from './held-answers.js';
import { fromIp } from './support.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];
const HELD = { data: { queryEndpoint: { answer: 'Held.' } } };
const FOUND = { data: { queryEndpoint: { passages: [{ documentTitle: 'Locks' }] } } };
const TENANT_PAST_GUARANTEE = /^Your tenant has 1 or more answers in progress \(its callers' and its endpoints' for other tenants' and anonymous callers\), and the server's last 2 places are kept for tenants with fewer/;
const SERVER_PAST_GUARANTEE = /^This endpoint's tenant has 1 or more answers in progress \(its callers' and its endpoints' for other tenants' and anonymous callers\), and the server's last 2 places are kept/;

let fake: FakeOpenAI;
let server: TestServer;
/** Self-made tenants, each with a published endpoint on the slow model it hosts, open to anonymous callers. */
let heavy: { tenant: Tenant; endpoint: EndpointSetup }[];
/** A tenant with nothing running and a private endpoint on the built-in model. */
let victim: { tenant: Tenant; endpoint: EndpointSetup };

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({
    env: { SLUICE_MAX_ANSWERS_PER_CALLER: '2', SLUICE_MAX_ANSWERS_PER_TENANT: '2', SLUICE_MAX_ANSWERS: '8', SLUICE_ANSWERS_GUARANTEED_PER_TENANT: '1', SLUICE_TRUST_PROXY: '1' },
  });
  const slowModel = () => ({ name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } });
  heavy = [];
  for (let i = 0; i < 4; i++) {
    const tenant = await tenantWithOwner(server);
    const endpoint = await endpointOver(server, tenant.token, DOCS, { published: true, model: slowModel() });
    await must(server, tenant.token, 'mutation($id: ID!) { updateEndpoint(id: $id, input: { allowAnonymous: true }) { id } }', { id: endpoint.endpointId });
    heavy.push({ tenant, endpoint });
  }
  const tenant = await tenantWithOwner(server);
  victim = { tenant, endpoint: await endpointOver(server, tenant.token, DOCS) };
}, 180_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** `queryEndpoint` as `tenant`'s owner: the answer of a slow endpoint, the passages of the victim's. */
function ask(tenant: Tenant, endpoint: EndpointSetup) {
  const fields = endpoint === victim.endpoint ? 'passages { documentTitle }' : 'answer';
  return server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { ${fields} } }`, { token: tenant.token, variables: { e: endpoint.reference } });
}

/** `endpoint`'s answer for an anonymous caller from `ip`. */
const askAnonymously = (ip: string, endpoint: EndpointSetup) =>
  server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }', { headers: fromIp(ip), variables: { e: endpoint.reference } });

/** The answer to `asking`, or null once the model received request number `count` (it was admitted and is held, into `held`: before the fix, it was). */
async function refusedOrHeld(asking: ReturnType<typeof ask>, count: number, held: ReturnType<typeof ask>[]) {
  const refused = await Promise.race([asking, fake.requestsReached(count).then(() => null)]);
  if (!refused) held.push(asking);
  return refused;
}

/** `response` is the reserve's refusal, worded `message`. */
function expectReserveRefusal(response: Awaited<ReturnType<typeof ask>> | null, message: RegExp) {
  if (!response) throw new Error("admitted into the reserve: the process's places are all held");
  expect(response.status).toBe(429);
  expect(response.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS', bound: 'RESERVE' });
  expect(response.body.errors[0].message).toMatch(message);
}

/** The first three heavy tenants' endpoints asked twice each by their own owners (their whole share), held by the model; `asked`: the model's requests before. */
async function fillToTheLine() {
  const asked = fake.requests.length;
  const held = heavy.slice(0, 3).flatMap(({ tenant, endpoint }) => [ask(tenant, endpoint), ask(tenant, endpoint)]);
  await fake.requestsReached(asked + 6);
  return { held, asked };
}

async function refusalsOf(endpointId: string, owner: Tenant): Promise<string[]> {
  const data = await must(server, owner.token, 'query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision reasonCode reason } } } }', { f: { endpointId } });
  return data.policyDecisions.edges.filter(({ node }: { node: { decision: string } }) => node.decision === 'DENY').map(({ node }: { node: { reason: string } }) => node.reason);
}

describe("the process's reserve of answer places", () => {
  it('answers a tenant with nothing running while four self-made tenants hold everything their shares allow', async () => {
    const release = holdAnswers(fake);
    // Three tenants take their whole share (2 each) below the reserve line (6 of 8): normal load meets no new bound.
    const { held, asked } = await fillToTheLine();
    const [, , , fourth] = heavy;
    try {
      // The fourth is past the line: it gets its guaranteed one, not the second.
      held.push(ask(fourth!.tenant, fourth!.endpoint));
      await fake.requestsReached(asked + 7);
      const second = await refusedOrHeld(ask(fourth!.tenant, fourth!.endpoint), asked + 8, held);
      // The victim, holding nothing, is answered on its own private endpoint (before, every place
      // was held and it was refused: RATE_LIMITED, the process's bound).
      expect((await ask(victim.tenant, victim.endpoint)).body).toEqual(FOUND);
      if (!second) throw new Error("the fourth tenant's second answer was admitted: the process's places are all held");
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('1');
      expect(second.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS', bound: 'RESERVE', retryAfterSeconds: 1 });
      expect(second.body.errors[0].message).toMatch(TENANT_PAST_GUARANTEE);
      expect(await answersInProgress(server)).toBe(7);
    } finally {
      release();
    }
    await heldAnswered(server, held, HELD);
  });

  it("refuses an endpoint's tenant past its guarantee more outsiders once the process is past the line, and says which bound refused", async () => {
    const [outsiderA, outsiderB] = [await tenantWithOwner(server), await tenantWithOwner(server)];
    const [, , , served] = heavy;
    const refusedBefore = (await refusalsOf(served!.endpoint.endpointId, served!.tenant)).length;
    const release = holdAnswers(fake);
    const { held, asked } = await fillToTheLine();
    try {
      // Past the line, one outsider holding nothing is given the served tenant's guaranteed one…
      held.push(ask(outsiderA, served!.endpoint));
      await fake.requestsReached(asked + 7);
      // …and another outsider, within its own share and the serving share (1 of 2), is not given a second.
      const refused = await refusedOrHeld(ask(outsiderB, served!.endpoint), asked + 8, held);
      if (!refused) throw new Error("the second outsider's answer was admitted: the process's places are all held");
      expect(refused.status).toBe(429);
      expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS', bound: 'RESERVE' });
      expect(refused.body.errors[0].message).toMatch(SERVER_PAST_GUARANTEE);
      // In the endpoint's decision log, where the served tenant's operators look.
      const refusals = await refusalsOf(served!.endpoint.endpointId, served!.tenant);
      expect(refusals).toHaveLength(refusedBefore + 1);
      expect(refusals).toContain(refused.body.errors[0].message);

      // A tenant holding nothing still gets the last place.
      expect(await answersInProgress(server)).toBe(7);
      expect((await ask(victim.tenant, victim.endpoint)).body).toEqual(FOUND);
    } finally {
      release();
    }
    await heldAnswered(server, held, HELD);
  });

  it('gives anonymous callers no guarantee of their own: from two addresses they once took the whole reserve', async () => {
    const release = holdAnswers(fake);
    const { held, asked } = await fillToTheLine();
    try {
      // Two heavy tenants' endpoints, each tenant in its whole share already, asked from two fresh
      // addresses: each address once had a guarantee of its own, and both were admitted.
      const first = await refusedOrHeld(askAnonymously('203.0.113.11', heavy[0]!.endpoint), asked + 7, held);
      const second = await refusedOrHeld(askAnonymously('203.0.113.12', heavy[1]!.endpoint), asked + (first ? 7 : 8), held);
      // Before, the victim was refused here (RATE_LIMITED, bound PROCESS).
      expect((await ask(victim.tenant, victim.endpoint)).body).toEqual(FOUND);
      expectReserveRefusal(first, SERVER_PAST_GUARANTEE);
      expectReserveRefusal(second, SERVER_PAST_GUARANTEE);
    } finally {
      release();
    }
    await heldAnswered(server, held, HELD);
  });

  it("counts a tenant's own callers and the anonymous callers it answers against one guarantee, whichever came first", async () => {
    const [, , , fourth] = heavy;
    for (const anonymousFirst of [false, true]) {
      const release = holdAnswers(fake);
      const { held, asked } = await fillToTheLine();
      try {
        const own = () => ask(fourth!.tenant, fourth!.endpoint);
        const anonymous = () => askAnonymously(anonymousFirst ? '203.0.113.21' : '203.0.113.22', fourth!.endpoint);
        // The fourth tenant, with nothing running, gets its guaranteed place either way…
        held.push(anonymousFirst ? anonymous() : own());
        await fake.requestsReached(asked + 7);
        // …and not a second one on the other side: it once had a guarantee as asker and one as server.
        const refused = await refusedOrHeld(anonymousFirst ? own() : anonymous(), asked + 8, held);
        // A tenant with nothing running still gets its guaranteed place (before, refused: bound PROCESS).
        expect((await ask(victim.tenant, victim.endpoint)).body).toEqual(FOUND);
        expectReserveRefusal(refused, anonymousFirst ? TENANT_PAST_GUARANTEE : SERVER_PAST_GUARANTEE);
        expect(await answersInProgress(server)).toBe(7);
      } finally {
        release();
      }
      await heldAnswered(server, held, HELD);
    }
  });
});
