/**
 * A tenant's serving share (SLUICE_MAX_ANSWERS_PER_TENANT: the answers its endpoints give at once
 * to other tenants' and anonymous callers) bounds outsiders only, and only once they reached the
 * endpoint. It once counted every caller, the tenant's own included, from any reference naming
 * the tenant, before the endpoint was resolved: another tenant's keys held three slow answers of a
 * published endpoint, and the tenant's own key was refused on its own private endpoint
 * (attacker review, December). One outsider (another tenant's callers together; anonymous
 * callers together) holds at most half the share, so it cannot take it all. Real server and
 * PostgreSQL; the slow model is the fake model server holding its answers until released.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, must, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { lockWaiters } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { allGivenBack, holdAnswers } from './held-answers.js';
import { fromIp } from './support.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];
const HELD = { data: { queryEndpoint: { answer: 'Held.' } } };
const FOUND = { data: { queryEndpoint: { passages: [{ documentTitle: 'Locks' }] } } };

let fake: FakeOpenAI;
let server: TestServer;
/** The tenant whose endpoints are asked: a published one on the slow model, a private and a published one with no model. */
let b: Tenant;
let slow: EndpointSetup;
let privateEndpoint: EndpointSetup;
let quick: EndpointSetup;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MAX_ANSWERS_PER_CALLER: '2', SLUICE_MAX_ANSWERS_PER_TENANT: '3', SLUICE_MAX_ANSWERS: '50', SLUICE_TRUST_PROXY: '1' } });
  b = await tenantWithOwner(server);
  slow = await endpointOver(server, b.token, DOCS, { published: true, model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } } });
  privateEndpoint = await endpointOver(server, b.token, DOCS);
  quick = await endpointOver(server, b.token, DOCS, { published: true });
  for (const { endpointId } of [slow, quick]) await must(server, b.token, 'mutation($id: ID!) { updateEndpoint(id: $id, input: { allowAnonymous: true }) { id } }', { id: endpointId });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A READ key of `tenant`'s, made by its owner. */
async function readKey(tenant: Tenant): Promise<string> {
  return (await createApiKey(server, tenant.token, { name: uniqueSlug('key'), scopes: ['READ'] })).body.data.createApiKey.secret;
}

/** `queryEndpoint` as an API key, or anonymously from an address; the slow endpoint is asked for its answer, the others for their passages. */
function ask(who: { key: string } | { ip: string }, reference: string) {
  const fields = reference === slow.reference ? 'answer' : 'passages { documentTitle }';
  return server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { ${fields} } }`, {
    variables: { e: reference },
    headers: 'key' in who ? { 'x-api-key': who.key } : fromIp(who.ip),
  });
}

/** How many of the endpoint's decisions refused a query for the answers in progress. */
async function answersRefused(endpointId: string): Promise<number> {
  const data = await must(server, b.token, 'query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision reasonCode } } } }', { f: { endpointId } });
  return data.policyDecisions.edges.filter(({ node }: { node: { decision: string; reasonCode: string } }) => node.decision === 'DENY' && node.reasonCode === 'ANSWERS_IN_PROGRESS').length;
}

describe("a tenant's serving share", () => {
  it("counts outsiders only: other tenants filling it leave the tenant's own callers served, on its private endpoints too", async () => {
    const [a, c] = [await tenantWithOwner(server), await tenantWithOwner(server)];
    const [aKey, cKey, cSecondKey, bKey] = [await readKey(a), await readKey(c), await readKey(c), await readKey(b)];
    const refusedBefore = await answersRefused(quick.endpointId);
    const release = holdAnswers(fake);
    const asked = fake.requests.length;
    // Two outside tenants hold the whole share (3 of 3): A its part (2), C one more.
    const held = [ask({ key: aKey }, slow.reference), ask({ key: aKey }, slow.reference), ask({ key: cKey }, slow.reference)];
    await fake.requestsReached(asked + 3);

    // The tenant's own key is answered on its private endpoint, and on its published one too.
    expect((await ask({ key: bKey }, privateEndpoint.reference)).body).toEqual(FOUND);
    held.push(ask({ key: bKey }, slow.reference));
    await fake.requestsReached(asked + 4);

    // Outsiders are still refused past the share: another tenant's key, and an anonymous caller.
    for (const outsider of [{ key: cSecondKey }, { ip: '203.0.113.61' }]) {
      const refused = await ask(outsider, quick.reference);
      expect(refused.status).toBe(429);
      expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS', retryAfterSeconds: 1 });
      expect(refused.body.errors[0].message).toMatch(/^This endpoint's tenant is giving 3 answers at once to other tenants' and anonymous callers/);
    }
    expect(fake.requests.length).toBe(asked + 4);
    // Both refusals are in the endpoint's decision log, where the tenant's operators look.
    expect(await answersRefused(quick.endpointId)).toBe(refusedBefore + 2);
    release();
    for (const response of await Promise.all(held)) expect(response.body).toEqual(HELD);
    await allGivenBack(server);
  });

  it('gives one outside tenant, and anonymous callers together, at most half of it', async () => {
    const [a, c] = [await tenantWithOwner(server), await tenantWithOwner(server)];
    const [aKey, aSecondKey, cKey] = [await readKey(a), await readKey(a), await readKey(c)];
    let release = holdAnswers(fake);
    let asked = fake.requests.length;
    let held = [ask({ key: aKey }, slow.reference), ask({ key: aKey }, slow.reference)];
    await fake.requestsReached(asked + 2);
    // A's second key is within its own share (0 of 2) and the tenant's (2 of 3), not within A's part (2 of 2).
    const overPart = await ask({ key: aSecondKey }, quick.reference);
    expect(overPart.status).toBe(429);
    expect(overPart.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS' });
    expect(overPart.body.errors[0].message).toMatch(/^Your tenant's callers have 2 answers of this endpoint's tenant in progress, the most one other tenant may hold of the 3/);
    // Another outside tenant takes the share's last place.
    expect((await ask({ key: cKey }, quick.reference)).body).toEqual(FOUND);
    release();
    for (const response of await Promise.all(held)) expect(response.body).toEqual(HELD);
    await allGivenBack(server);

    // Anonymous callers from any number of addresses are one outsider.
    release = holdAnswers(fake);
    asked = fake.requests.length;
    held = [ask({ ip: '203.0.113.71' }, slow.reference), ask({ ip: '2001:db8:71:1::1' }, slow.reference)];
    await fake.requestsReached(asked + 2);
    const anonymous = await ask({ ip: '203.0.113.72' }, quick.reference);
    expect(anonymous.status).toBe(429);
    expect(anonymous.body.errors[0].message).toMatch(/^Anonymous callers have 2 answers of this endpoint's tenant in progress, the most anonymous callers together may hold of the 3/);
    expect((await ask({ key: cKey }, quick.reference)).body).toEqual(FOUND);
    release();
    for (const response of await Promise.all(held)) expect(response.body).toEqual(HELD);
    await allGivenBack(server);
  });

  it("takes no place for a reference to the tenant's private or missing endpoint", async () => {
    const [a, c] = [await tenantWithOwner(server), await tenantWithOwner(server)];
    const [aKey, aSecondKey, cKey] = [await readKey(a), await readKey(a), await readKey(c)];
    // Every endpoint lookup waits while this session holds the endpoints table: A's references are
    // being admitted (each holds its caller's places) for as long as the test likes.
    const holder = new pg.Client({ connectionString: server.database.ownerUrl });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table endpoints in access exclusive mode');
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const missing = `${b.tenant.slug}/no-such-endpoint`;
      const references = [ask({ key: aKey }, privateEndpoint.reference), ask({ key: aKey }, missing), ask({ key: aSecondKey }, privateEndpoint.reference)];
      await pollUntil(() => lockWaiters(server, { blockedBy: holderPid }), (n) => n === 3, { timeoutMs: 60_000, intervalMs: 50, failure: (n) => `${n} endpoint lookups waiting, not 3` });

      // Three references of A's being admitted, and C's query of a published endpoint is not
      // refused for them: it waits for the lookup like theirs (or, taking their places, it was refused).
      let answered = false;
      const published = ask({ key: cKey }, quick.reference).finally(() => (answered = true));
      await pollUntil(async () => answered || (await lockWaiters(server, { blockedBy: holderPid })) === 4, Boolean, {
        timeoutMs: 60_000,
        intervalMs: 50,
        failure: () => 'the published query neither waited nor was answered',
      });
      await holder.query('commit');

      expect((await published).body).toEqual(FOUND);
      for (const response of await Promise.all(references)) expect(response.body.errors[0].extensions.code).toBe('NOT_FOUND');
    } finally {
      await holder.end();
    }
    await allGivenBack(server);
  });
});
