/**
 * One caller holds at most SLUICE_MAX_ANSWERS_PER_CALLER answers at once, whichever doors it
 * asks through, and the process at most SLUICE_MAX_ANSWERS. Before, only the rate limits held a
 * caller back: one API key held ~980 streamed answers (the process ran out of descriptors) and
 * one tenant 566 sockets to a slow model. Over the real server; the model is the fake model
 * server holding its answers until the test releases them, so "in progress" is a fact, not a race.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, must, uniqueSlug, usageOutcomes, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { holdAnswers } from './held-answers.js';
import { fromIp } from './support.js';

const PER_CALLER = 2;
const TOTAL = 5;
const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];

let fake: FakeOpenAI;
let server: TestServer;
let owner: Tenant;
let endpoint: EndpointSetup;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // No reserve: these tests fill the process from one tenant's endpoint (answer-reserve.test.ts keeps its last places).
  server = await startTestServer({ env: { SLUICE_MAX_ANSWERS_PER_CALLER: String(PER_CALLER), SLUICE_MAX_ANSWERS: String(TOTAL), SLUICE_ANSWERS_RESERVE: '0', SLUICE_TRUST_PROXY: '1' } });
  owner = await tenantWithOwner(server);
  endpoint = await endpointOver(server, owner.token, DOCS, { published: true, model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } } });
  await must(server, owner.token, 'mutation($id: ID!) { updateEndpoint(id: $id, input: { allowAnonymous: true }) { id } }', { id: endpoint.endpointId });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function newKey(): Promise<string> {
  return (await createApiKey(server, owner.token, { name: uniqueSlug('key'), scopes: ['READ'] })).body.data.createApiKey.secret;
}

const headersOf = (who: { key?: string; ip?: string }) => ({ 'content-type': 'application/json', ...(who.key ? { 'x-api-key': who.key } : {}), ...(who.ip ? fromIp(who.ip) : {}) });

function rest(who: { key?: string; ip?: string }, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.baseUrl}/api/v1/endpoints/${endpoint.reference}/query`, { method: 'POST', headers: headersOf(who), body: JSON.stringify({ query: 'lock keeper' }), signal });
}

function openAI(key: string): Promise<Response> {
  return fetch(`${server.baseUrl}/v1/chat/completions`, { method: 'POST', headers: headersOf({ key }), body: JSON.stringify({ model: endpoint.reference, messages: [{ role: 'user', content: 'lock keeper' }] }) });
}

async function graphql(key: string) {
  return server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }', { variables: { e: endpoint.reference }, headers: { 'x-api-key': key } });
}

/** MCP `tools/call` of the endpoint's ask tool; the JSON-RPC result, from a JSON or an event-stream answer. */
async function mcpAsk(key: string): Promise<{ isError?: boolean; structuredContent?: any }> {
  const response = await fetch(`${server.baseUrl}/mcp/${endpoint.reference}`, {
    method: 'POST',
    headers: { ...headersOf({ key }), accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: `ask_${endpoint.reference.split('/')[1]}`, arguments: { query: 'lock keeper' } } }),
  });
  const text = await response.text();
  const messages = text.startsWith('{') ? [text] : text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6));
  return messages.map((message) => JSON.parse(message)).find((message) => message.id === 7).result;
}

async function answersRefused(): Promise<number> {
  const data = await must(server, owner.token, 'query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision reasonCode } } } }', { f: { endpointId: endpoint.endpointId } });
  return data.policyDecisions.edges.filter((edge: { node: { decision: string; reasonCode: string } }) => edge.node.decision === 'DENY' && edge.node.reasonCode === 'ANSWERS_IN_PROGRESS').length;
}

describe('answers in progress', () => {
  it('one API key holds at most its share across doors; another caller is served; an ended answer frees its place', async () => {
    const [key, otherKey] = [await newKey(), await newKey()];
    const release = holdAnswers(fake);
    const asked = fake.requests.length;
    const usageBefore = (await usageOutcomes(server.database, endpoint.endpointId)).length;
    const refusedBefore = await answersRefused();

    // Two answers in progress, through two doors: REST and OpenAI-compatible.
    const leaving = new AbortController();
    const first = rest({ key }, leaving.signal);
    const second = openAI(key);
    await fake.requestsReached(asked + 2);

    // A third, through GraphQL and through MCP: refused before anything runs.
    const third = await graphql(key);
    expect(third.status).toBe(429);
    expect(third.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS', retryAfterSeconds: 1 });
    const viaMcp = await mcpAsk(key);
    expect(viaMcp.isError).toBe(true);
    expect(viaMcp.structuredContent.error).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS' });
    expect(fake.requests.length).toBe(asked + 2);
    expect(await answersRefused()).toBe(refusedBefore + 2);

    // Another caller is served meanwhile (its answer is in progress at the model).
    const others = mcpAsk(otherKey);
    await fake.requestsReached(asked + 3);

    // The REST client leaves: its answer is recorded CANCELLED and its place is free again.
    leaving.abort();
    await first.catch(() => undefined);
    expect(await usageOutcomes(server.database, endpoint.endpointId, usageBefore + 1)).toEqual([...Array(usageBefore).fill(expect.any(String)), 'CANCELLED']);
    const fourth = graphql(key);
    await fake.requestsReached(asked + 4);

    release();
    expect((await (await second).json()).choices[0].message.content).toBe('Held.');
    expect((await others).structuredContent.answer).toBe('Held.');
    expect((await fourth).body).toEqual({ data: { queryEndpoint: { answer: 'Held.' } } });
  });

  it('counts an anonymous caller by its address (an IPv6 /64 as one), and the process as a whole', async () => {
    const release = holdAnswers(fake);
    const asked = fake.requests.length;
    const held = [rest({ ip: '2001:db8:5:1::1' }), rest({ ip: '2001:db8:5:1::2' })];
    await fake.requestsReached(asked + 2);

    // A third address of the same /64 is the same caller.
    const sameNetwork = await rest({ ip: '2001:db8:5:1:ffff::3' });
    expect(sameNetwork.status).toBe(429);
    expect(await sameNetwork.json()).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS', retryAfterSeconds: 1 });

    // Other addresses are other callers, until the process holds all it may.
    held.push(rest({ ip: '203.0.113.21' }), rest({ ip: '203.0.113.22' }), rest({ ip: '2001:db8:5:2::1' }));
    await fake.requestsReached(asked + TOTAL);
    const overall = await rest({ ip: '203.0.113.23' });
    expect(overall.status).toBe(429);
    const refusal = await overall.json();
    expect(refusal).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS' });
    expect(refusal.detail ?? refusal.message).toMatch(/as many queries as it holds at once \(5\)/);

    release();
    for (const answer of await Promise.all(held)) expect((await answer.json()).answer).toBe('Held.');
    // Every place was given back: the address refused a moment ago is answered now.
    const later = await rest({ ip: '2001:db8:5:1::4' });
    expect((await later.json()).answer).toBe('Held.');
  });
});
