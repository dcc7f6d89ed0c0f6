/**
 * An answer's place among the answers in progress (and its quota reservation) lasts as long as
 * the answer, whatever door asked and however it ends. Two ways it did not (attacker review,
 * December):
 *  - a client that left while its query was being admitted: the OpenAI-compatible stream and
 *    the GraphQL subscription over SSE registered "the client left" after admission, when the
 *    abort had fired already, so the place and a RUNNING reservation stayed held until the
 *    process restarted: rounds of such requests filled SLUICE_MAX_ANSWERS and every tenant got
 *    429;
 *  - `queryEndpoint` selecting only passages: the model kept answering after the response was
 *    sent, its place given back at once, so a caller allowed 2 held 6 model connections.
 * Real server and PostgreSQL; the model is the fake model server (the OpenAI protocol over HTTP).
 * Admission is held on purpose by taking the endpoint's policy lock from another session, so
 * "the client left during admission" is a fact, not a race.
 */
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { scrape, value } from '../support/metrics.js';
import { createPolicy } from '../support/policies.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];

let fake: FakeOpenAI;
let server: TestServer;
let owner: Tenant;
let endpoint: EndpointSetup;
let key: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MAX_ANSWERS_PER_CALLER: '2', SLUICE_MAX_ANSWERS_PER_TENANT: '3', SLUICE_MAX_ANSWERS: '50' } });
  owner = await tenantWithOwner(server);
  endpoint = await endpointOver(server, owner.token, DOCS, { published: true, model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } } });
  // A flat charge: each admitted query reserves it as a RUNNING usage record until it is settled.
  await createPolicy(server, owner.token, endpoint.endpointId, 'accounting', { flatMicros: 1000, quota: 1e12, periodSeconds: 3600 });
  key = (await createApiKey(server, owner.token, { name: uniqueSlug('key'), scopes: ['READ'] })).body.data.createApiKey.secret;
}, 120_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const answersInProgress = async () => value(await scrape(server), 'sluice_answers_in_progress');
const endpointRowId = () => databaseIdOf(endpoint.endpointId);
const running = () =>
  withClient(server.database.ownerUrl, async (db) => Number((await db.query("select count(*) from usage_records where endpoint_id = $1 and outcome = 'RUNNING'", [endpointRowId()])).rows[0].count));

const json = { 'content-type': 'application/json', 'x-api-key': '' };
const ask = 'lock keeper';
/** Each door's request: path, headers and body. */
const DOORS: Record<string, () => { path: string; headers: Record<string, string>; body: unknown }> = {
  'OpenAI-compatible, streamed': () => ({ path: '/v1/chat/completions', headers: { ...json, 'x-api-key': key }, body: { model: endpoint.reference, stream: true, messages: [{ role: 'user', content: ask }] } }),
  'OpenAI-compatible': () => ({ path: '/v1/chat/completions', headers: { ...json, 'x-api-key': key }, body: { model: endpoint.reference, messages: [{ role: 'user', content: ask }] } }),
  'GraphQL subscription over SSE': () => ({
    path: '/graphql',
    headers: { ...json, 'x-api-key': key, accept: 'text/event-stream' },
    body: { query: `subscription { endpointQuery(endpoint: "${endpoint.reference}", query: "${ask}") { __typename } }` },
  }),
  'GraphQL queryEndpoint': () => ({ path: '/graphql', headers: { ...json, 'x-api-key': key }, body: { query: `{ queryEndpoint(endpoint: "${endpoint.reference}", query: "${ask}") { answer } }` } }),
  'REST, streamed': () => ({ path: `/api/v1/endpoints/${endpoint.reference}/query`, headers: { ...json, 'x-api-key': key, accept: 'text/event-stream' }, body: { query: ask } }),
  MCP: () => ({
    path: `/mcp/${endpoint.reference}`,
    headers: { ...json, 'x-api-key': key, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: `ask_${endpoint.reference.split('/')[1]}`, arguments: { query: ask } } },
  }),
};

/**
 * Sends the door's request on a connection of its own and resolves, once the server has seen
 * it arrive, to a function that closes it and resolves when the server's side has closed too.
 */
async function sendThenLeave(door: () => { path: string; headers: Record<string, string>; body: unknown }): Promise<() => Promise<void>> {
  const { path, headers, body } = door();
  const arrived = new Promise<Socket>((resolve) => server.server.httpServer.once('connection', resolve));
  const url = new URL(server.baseUrl);
  const request = httpRequest({ host: url.hostname, port: url.port, path, method: 'POST', headers, agent: false });
  request.on('error', () => undefined);
  request.end(JSON.stringify(body));
  const serverSide = await arrived;
  return async () => {
    const closed = new Promise((resolve) => serverSide.once('close', resolve));
    request.destroy();
    await closed;
  };
}

/** Holds every query's admission (the endpoint's policies' lock) until the returned function releases it. */
async function holdAdmission(): Promise<() => Promise<void>> {
  const session = new pg.Client({ connectionString: server.database.ownerUrl });
  await session.connect();
  await session.query('select pg_advisory_lock(hashtextextended($1, 0))', [endpointRowId()]);
  return async () => {
    await session.query('select pg_advisory_unlock(hashtextextended($1, 0))', [endpointRowId()]);
    await session.end();
  };
}

/** Resolves once a query waits for the endpoint's policies' lock. */
const admissionWaiting = () =>
  pollUntil(
    () => withClient(server.database.ownerUrl, async (db) => Number((await db.query("select count(*) from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())")).rows[0].count)),
    (count) => count > 0,
    { timeoutMs: 20_000, failure: (count) => `no query waited for the policies lock (${count} waiting)` },
  );

describe('an answer holds its place as long as it lasts', () => {
  it.each(Object.keys(DOORS))('%s: a client that leaves while its query is admitted frees its place and settles its reservation', async (name) => {
    fake.script({ deltas: ['Never ', 'read.'] });
    const release = await holdAdmission();
    let leave: () => Promise<void>;
    try {
      leave = await sendThenLeave(DOORS[name]!);
      await admissionWaiting();
      await leave();
    } finally {
      await release();
    }
    // Admitted after its client left: nothing runs for it, and it holds nothing.
    const settled = await pollUntil(async () => ({ places: await answersInProgress(), running: await running() }), (state) => state.places === 0 && state.running === 0, {
      timeoutMs: 20_000,
      failure: (state) => `${name}: still held after its client left: ${JSON.stringify(state)}`,
    });
    expect(settled).toEqual({ places: 0, running: 0 });
  });

  it('queryEndpoint selecting only passages does not ask the model, and is recorded as answered', async () => {
    fake.script({ deltas: ['Held ', 'forever.'], hangAfter: 1 });
    const asked = fake.requests.length;
    for (const fields of ['passages { rank }', '... on QueryResult { passages { documentTitle } }', '...Found']) {
      const fragment = fields === '...Found' ? ' fragment Found on QueryResult { passages { rank } }' : '';
      const response = await server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { ${fields} } }${fragment}`, {
        variables: { e: endpoint.reference },
        headers: { 'x-api-key': key },
      });
      expect(response.body).toEqual({ data: { queryEndpoint: { passages: [expect.objectContaining({})] } } });
    }
    const outcomes = await withClient(server.database.ownerUrl, async (db) =>
      (await db.query('select outcome, completion_tokens from usage_records where endpoint_id = $1 order by created_at desc limit 3', [endpointRowId()])).rows,
    );
    expect(outcomes).toEqual(Array(3).fill({ outcome: 'ok', completion_tokens: 0 }));
    // Asking for nothing but the type asks no model either (the query ends with its response).
    const bare = await server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { __typename } }`, { variables: { e: endpoint.reference }, headers: { 'x-api-key': key } });
    expect(bare.body).toEqual({ data: { queryEndpoint: { __typename: 'QueryResult' } } });
    // The same caller may hold two answers: four in a row held four model calls, its places long given back.
    expect(fake.requests.length).toBe(asked);
    expect(await pollUntil(answersInProgress, (places) => places === 0, { failure: (places) => `${places} answers still in progress` })).toBe(0);
  });

  it('queryEndpoint asking for the answer holds its place until the answer ends, and the model stops once the response is sent', async () => {
    let release!: () => void;
    fake.script({ deltas: ['Held.'], until: new Promise<void>((resolve) => (release = resolve)) });
    const asked = fake.requests.length;
    const answering = [0, 1].map(() =>
      server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }`, { variables: { e: endpoint.reference }, headers: { 'x-api-key': key } }),
    );
    await fake.requestsReached(asked + 2);
    expect(await answersInProgress()).toBe(2);
    // Its share is taken: a third is refused while both are answered.
    const third = await server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }`, { variables: { e: endpoint.reference }, headers: { 'x-api-key': key } });
    expect(third.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS' });
    release();
    for (const response of await Promise.all(answering)) expect(response.body).toEqual({ data: { queryEndpoint: { answer: 'Held.' } } });
    expect(await pollUntil(answersInProgress, (places) => places === 0, { failure: (places) => `${places} answers still in progress` })).toBe(0);
  });

  it("a tenant's callers together hold at most their tenant's share; other tenants are served, by its endpoints too", async () => {
    // One tenant's keys, each within its own share, held the whole process against a slow model
    // of its own (attacker review, December): the tenant's share bounds them together.
    let release!: () => void;
    fake.script({ deltas: ['Held.'], until: new Promise<void>((resolve) => (release = resolve)) });
    const asked = fake.requests.length;
    const secondKey = (await createApiKey(server, owner.token, { name: uniqueSlug('key'), scopes: ['READ'] })).body.data.createApiKey.secret;
    const viaGraphQL = (apiKey: string, reference: string) =>
      server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }`, { variables: { e: reference }, headers: { 'x-api-key': apiKey } });
    const held = [viaGraphQL(key, endpoint.reference), viaGraphQL(key, endpoint.reference), viaGraphQL(secondKey, endpoint.reference)];
    await fake.requestsReached(asked + 3);

    // The second key is within its own share (1 of 2), not within its tenant's (3 of 3).
    const overTenant = await viaGraphQL(secondKey, endpoint.reference);
    expect(overTenant.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ANSWERS_IN_PROGRESS' });
    expect(overTenant.body.errors[0].message).toMatch(/Your tenant's callers have 3 answers in progress/);

    // Another tenant asking its own endpoint is served meanwhile...
    const other = await tenantWithOwner(server);
    const otherEndpoint = await endpointOver(server, other.token, DOCS, { model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } } });
    const otherKey = (await createApiKey(server, other.token, { name: uniqueSlug('key'), scopes: ['READ'] })).body.data.createApiKey.secret;
    const served = viaGraphQL(otherKey, otherEndpoint.reference);
    await fake.requestsReached(asked + 4);
    // ...and by the first tenant's endpoint: its own callers' answers are its asking share, not
    // its endpoints' serving share, which counts outsiders only (test/limits/serving-share.test.ts).
    const servedByFull = viaGraphQL(otherKey, endpoint.reference);
    await fake.requestsReached(asked + 5);

    release();
    for (const response of [...(await Promise.all(held)), await served, await servedByFull]) expect(response.body).toEqual({ data: { queryEndpoint: { answer: 'Held.' } } });
    expect(await pollUntil(answersInProgress, (places) => places === 0, { failure: (places) => `${places} answers still in progress` })).toBe(0);
  });
});
