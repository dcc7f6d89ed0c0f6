/**
 * A database failure that passes answers UNAVAILABLE, not a masked INTERNAL, on every surface:
 * GraphQL (`extensions.code`, `reason`, `retryAfterSeconds`, `requestId`) and its audit outcome,
 * the REST query (503, `Retry-After`, problem details), the REST login (OAuth's
 * `temporarily_unavailable`), the OpenAI-compatible door and MCP; the request writes nothing,
 * the same request succeeds once the cause has gone, and the SDK asks a query again by itself.
 * The failures are real ones: the test database's `lock_timeout` (as an operator may set it)
 * ends a statement that waits for a row this test holds locked in its own transaction, and two
 * sessions deadlock for the classifier's own test (platform/errors/transient.ts).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { findFreePort } from '../../src/db/free-port.js';
import { transientFailure } from '../../src/platform/errors/index.js';
import { createClient, QueryEndpointDocument } from '../../src/sdk/index.js';
import { auditEventsOf } from '../support/audit.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { signUp } from '../support/identity.js';
import { endpointOver, type EndpointSetup } from '../support/endpoints.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { restQuery, schemaValidator } from '../support/rest.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];

let database: TestDatabase;
let server: TestServer;
let owner: Tenant;
let setup: EndpointSetup;

beforeAll(async () => {
  database = await createTestDatabase();
  // Before the server connects: every session of this database waits at most this long for a lock.
  await withClient(database.ownerUrl, (client) => client.query(`alter database ${database.name} set lock_timeout = '300ms'`));
  server = await startTestServer({ database });
  owner = await tenantWithOwner(server);
  setup = await endpointOver(server, owner.token, DOCS);
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

/** Runs `body` while the test's own transaction holds the rows `lockSql` locks; `release` lets them go early. */
async function holding<T>(lockSql: string, body: (release: () => Promise<void>) => Promise<T>): Promise<T> {
  return withClient(database.ownerUrl, async (client) => {
    await client.query('begin');
    await client.query(lockSql);
    let held = true;
    const release = async () => {
      if (held) await client.query('rollback');
      held = false;
    };
    try {
      return await body(release);
    } finally {
      await release();
    }
  });
}

const rename = (name: string) =>
  server.graphql(`mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id name } }`, {
    token: owner.token,
    variables: { id: setup.datasetId, input: { name } },
  });

const datasetName = async () =>
  (await server.graphql(`query($id: ID!) { dataset(id: $id) { name } }`, { token: owner.token, variables: { id: setup.datasetId } })).body.data.dataset.name;

it('answers a mutation that meets a lock timeout UNAVAILABLE, writes nothing, and succeeds when sent again', async () => {
  const before = await datasetName();
  const refused = await holding('select 1 from datasets for update', () => rename('Renamed while locked'));
  expect(refused.body.data).toBeNull();
  expect(refused.body.errors).toHaveLength(1);
  expect(refused.body.errors[0].extensions).toMatchObject({ code: 'UNAVAILABLE', reason: 'LOCK_TIMEOUT', retryAfterSeconds: 1, requestId: expect.any(String) });
  expect(refused.body.errors[0].message).toMatch(/send it again/);
  expect(await datasetName()).toBe(before);

  const again = await rename('Renamed after');
  expect(again.body.errors).toBeUndefined();
  expect(again.body.data.updateDataset.name).toBe('Renamed after');
  expect(await datasetName()).toBe('Renamed after');

  // The audit trail says what the caller was told (its writer is batched: waited for).
  const audited = await auditEventsOf(server, owner.token, 1, { action: 'graphql.mutation', outcome: 'UNAVAILABLE' });
  expect(audited).toHaveLength(1);
  expect(audited[0]!.outcome).toBe('UNAVAILABLE');
});

it('answers the REST door 503 with Retry-After when its query cannot record its usage in time', async () => {
  // The usage record references the endpoint: its foreign-key check waits for the locked row.
  const refused = await holding('select 1 from endpoints for update', () => restQuery(server, setup.reference, { query: 'how do boats rise' }, { token: owner.token }));
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('1');
  expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(refused.body).toMatchObject({ type: 'urn:sluice:error:UNAVAILABLE', status: 503, code: 'UNAVAILABLE', reason: 'LOCK_TIMEOUT', retryAfterSeconds: 1 });
  // As the OpenAPI document describes it: a 503 of the query route, problem details with a known code.
  const openapi = await (await fetch(`${server.baseUrl}/api/v1/openapi.json`)).json();
  const queryPath = Object.keys(openapi.paths).find((path) => path.endsWith('/query'))!;
  expect(openapi.paths[queryPath].post.responses['503'].headers).toHaveProperty('Retry-After');
  expect(schemaValidator(openapi)('ProblemDetails', refused.body)).toEqual([]);

  const again = await restQuery(server, setup.reference, { query: 'how do boats rise' }, { token: owner.token });
  expect(again.status).toBe(200);
  expect(again.body.passages[0].text).toMatch(/Boats rise/);
});

it('answers the REST login 503 temporarily_unavailable with Retry-After, then logs in', async () => {
  const account = await signUp(server);
  const logIn = () =>
    fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: account.email, password: account.password }) });
  // A log-in writes a session for the user: its foreign-key check waits for the locked user.
  const refused = await holding('select 1 from users for update', logIn);
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('1');
  expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable', code: 'UNAVAILABLE', retryAfterSeconds: 1, requestId: refused.headers.get('x-request-id') });
  const again = await logIn();
  expect(again.status).toBe(200);
  expect(await again.json()).toMatchObject({ token_type: 'bearer', expires_in: 900 });
});

it('answers the OpenAI-compatible door 503 in OpenAI\'s error shape, which OpenAI clients retry', async () => {
  const ask = () =>
    fetch(`${server.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ model: setup.reference, messages: [{ role: 'user', content: 'how do boats rise' }] }),
    });
  const refused = await holding('select 1 from endpoints for update', ask);
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('1');
  expect((await refused.json()).error).toMatchObject({ type: 'server_error', code: 'UNAVAILABLE', sluice: { reason: 'LOCK_TIMEOUT', retryAfterSeconds: 1 } });
  const again = await ask();
  expect(again.status).toBe(200);
  expect((await again.json()).choices[0].message.content).toMatch(/Boats rise/);
});

it('answers an MCP tool call with an UNAVAILABLE tool error, and the same call succeeds after', async () => {
  const client = new Client({ name: 'sluice-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`/mcp/${setup.reference}`, server.baseUrl), { requestInit: { headers: { authorization: `Bearer ${owner.token}` } } }));
  try {
    const tool = `search_${setup.reference.split('/')[1]}`;
    const refused = await holding('select 1 from endpoints for update', () => client.callTool({ name: tool, arguments: { query: 'how do boats rise' } }));
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ error: { code: 'UNAVAILABLE', reason: 'LOCK_TIMEOUT', retryAfterSeconds: 1 } });
    const again = await client.callTool({ name: tool, arguments: { query: 'how do boats rise' } });
    expect(again.isError).toBeFalsy();
    expect((again.structuredContent as { passages: { text: string }[] }).passages[0]!.text).toMatch(/Boats rise/);
  } finally {
    await client.close();
  }
});

it('the SDK asks a query again after an UNAVAILABLE answer, and gets its answer', async () => {
  // Retries to spare, so a slow audit writer (which tells the test when to let go) cannot use them all up.
  const client = createClient({ url: server.url, token: owner.token, maxRateLimitRetries: 5 });
  const refusedBefore = (await auditEventsOf(server, owner.token, 0, { action: 'graphql.query', outcome: 'UNAVAILABLE' })).length;
  const answer = await holding('select 1 from endpoints for update', async (release) => {
    const asked = client.request(QueryEndpointDocument, { endpoint: setup.reference, query: 'how do boats rise' });
    // The first attempt's refusal reaches the audit trail; then the lock goes (the SDK retries every second).
    await auditEventsOf(server, owner.token, refusedBefore + 1, { action: 'graphql.query', outcome: 'UNAVAILABLE' });
    await release();
    return asked;
  });
  expect(answer.queryEndpoint.passages[0]?.text).toMatch(/Boats rise/);
  const refused = await auditEventsOf(server, owner.token, refusedBefore + 1, { action: 'graphql.query', outcome: 'UNAVAILABLE' });
  expect(refused.length).toBeGreaterThan(refusedBefore);
});

it('tells a real deadlock apart from an unreachable server of another kind', async () => {
  // Two sessions each holding the row the other asks for: PostgreSQL fails one of them (40P01).
  const deadlock = await withClient(database.ownerUrl, (first) =>
    withClient(database.ownerUrl, async (second) => {
      await first.query('create table if not exists deadlock_rows (id int primary key); insert into deadlock_rows values (1), (2) on conflict do nothing');
      // Without this file's lock_timeout, which would end the first wait before the deadlock is found.
      for (const session of [first, second]) await session.query('set lock_timeout = 0');
      await first.query('begin');
      await second.query('begin');
      await first.query('select 1 from deadlock_rows where id = 1 for update');
      await second.query('select 1 from deadlock_rows where id = 2 for update');
      const waits = first.query('select 1 from deadlock_rows where id = 2 for update');
      const failures = await Promise.allSettled([waits, second.query('select 1 from deadlock_rows where id = 1 for update')]);
      await first.query('rollback');
      await second.query('rollback');
      return failures.flatMap((failure) => (failure.status === 'rejected' ? [failure.reason as unknown] : []));
    }),
  );
  expect(deadlock).toHaveLength(1);
  expect(transientFailure(deadlock[0])?.details).toEqual({ reason: 'DEADLOCK', retryAfterSeconds: 1 });

  // fetch to a closed port: its socket error sits under a TypeError's cause, and is not the database's.
  const closed = await findFreePort();
  const unreachable = await fetch(`http://127.0.0.1:${closed}/`).catch((error: unknown) => error);
  expect((unreachable as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  expect(transientFailure(unreachable)).toBeUndefined();
  expect(transientFailure(new Error('no code at all'))).toBeUndefined();
});
