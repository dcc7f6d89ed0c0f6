/**
 * What every consumer route (REST, OpenAI-compatible, MCP) shares through its door
 * (routes/consumer-door.ts), tested where a route could get round it:
 *  - the audit event keeps what the client sent as GraphQL keeps an unmarked argument: cut and
 *    redacted, so a key pasted as an MCP tool name, an OpenAI model or a REST path is never
 *    stored; MCP keeps only the names of tools it has, and counts the others;
 *  - one HTTP request is one request to the per-caller limit, except an MCP JSON-RPC batch:
 *    each further request message takes its own, and a batch holds at most 16 messages.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { MAX_BATCH_MESSAGES } from '../../src/routes/mcp.js';
import { endpointOver, must, type EndpointSetup } from '../support/endpoints.js';
import { createApiKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];

let server: TestServer;
let owner: Tenant;
let docs: EndpointSetup;
/** A real API key's secret: what must never reach the trail. */
let secret: string;

beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_RATE_LIMITS: 'on', SLUICE_RATE_LIMIT_PER_SECOND: '1000', SLUICE_RATE_LIMIT_BURST: '1000' } });
  owner = await tenantWithOwner(server);
  docs = await endpointOver(server, owner.token, DOCS);
  secret = (await createApiKey(server, owner.token, { name: 'pasted', scopes: ['READ'] })).body.data.createApiKey.secret;
}, 120_000);
afterAll(() => server?.close());

/** A JSON-RPC batch to `/mcp/{tenant}/{endpoint}` over plain HTTP (stateless: no initialize needed). */
async function mcpBatch(setup: EndpointSetup, token: string, messages: Record<string, unknown>[]) {
  const response = await fetch(`${server.baseUrl}/mcp/${setup.reference}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify(messages.map((message, index) => ({ jsonrpc: '2.0', id: index + 1, ...message }))),
  });
  const text = await response.text();
  // The transport answers a batch as one SSE stream of JSON-RPC responses, or as JSON.
  const answers = response.headers.get('content-type')?.includes('text/event-stream')
    ? text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)))
    : [JSON.parse(text)].flat();
  return { status: response.status, answers };
}

const searchCall = (setup: EndpointSetup, query = 'how does the lock keeper fill the chamber') => ({
  method: 'tools/call',
  params: { name: `search_${setup.reference.split('/')[1]}`, arguments: { query } },
});

/** The payloads of the tenant's events of `action`, once at least `atLeast` are written. */
async function storedPayloads(tenantSlug: string, action: string, atLeast: number): Promise<string[]> {
  const rows = await withClient(server.database.ownerUrl, (client) =>
    pollUntil(
      async () =>
        (
          await client.query<{ payload: string }>(
            'select payload::text as payload from audit_events where tenant_id = (select id from tenants where slug = $1) and action = $2 order by seq',
            [tenantSlug, action],
          )
        ).rows,
      (found) => found.length >= atLeast,
      { failure: (found) => `${found.length} ${action} events, not ${atLeast}` },
    ),
  );
  return rows.map((row) => row.payload);
}

it('never stores a secret the client put in a tool name, a method, a model or a path', async () => {
  const { tenant, token } = owner;
  const mcp = await mcpBatch(docs, token, [
    { method: 'tools/call', params: { name: secret, arguments: { query: 'locks' } } },
    { method: secret, params: {} },
  ]);
  expect(mcp.status).toBe(200);
  expect(mcp.answers.map((answer) => answer.error?.code).sort()).toEqual([-32601, -32602]);

  const chat = await fetch(`${server.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: `${tenant.slug}/${secret}`, messages: [{ role: 'user', content: 'locks' }] }),
  });
  expect([chat.status, (await chat.json()).error.code]).toEqual([400, 'BAD_USER_INPUT']);
  const rest = await fetch(`${server.baseUrl}/api/v1/endpoints/${tenant.slug}/${secret}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'locks' }),
  });
  expect([rest.status, (await rest.json()).code]).toEqual([400, 'BAD_USER_INPUT']);

  const [mcpEvent] = await storedPayloads(tenant.slug, 'mcp.request', 1);
  const [chatEvent] = await storedPayloads(tenant.slug, 'openai.chat', 1);
  const [restEvent] = await storedPayloads(tenant.slug, 'rest.query', 1);
  // The event is there, and says what it can without the secret.
  expect(JSON.parse(mcpEvent!).details).toMatchObject({ route: docs.reference, tools: [], unknownTools: 1 });
  expect(JSON.parse(chatEvent!).outcome).toBe('BAD_USER_INPUT');
  expect(JSON.parse(restEvent!).outcome).toBe('BAD_USER_INPUT');
  for (const stored of [mcpEvent, chatEvent, restEvent]) {
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.slice(-16));
  }
});

it(`refuses an MCP batch of more than ${MAX_BATCH_MESSAGES} tool calls before any runs`, async () => {
  const { tenant, token } = await tenantWithOwner(server);
  const setup = await endpointOver(server, token, DOCS);
  const refused = await mcpBatch(setup, token, Array.from({ length: MAX_BATCH_MESSAGES + 1 }, () => searchCall(setup)));
  expect(refused.status).toBe(400);
  expect(refused.answers[0]).toMatchObject({ error: { code: -32600, data: { code: 'BAD_REQUEST' } } });
  expect(refused.answers[0].error.message).toMatch(`at most ${MAX_BATCH_MESSAGES} messages`);
  const usage = await withClient(server.database.ownerUrl, (client) =>
    client.query('select count(*)::int as n from usage_records where tenant_id = (select id from tenants where slug = $1)', [tenant.slug]),
  );
  expect(usage.rows[0].n).toBe(0);
});

it('charges each further tool call of an MCP batch to the caller’s per-caller limit', async () => {
  const limited = await tenantWithOwner(server);
  const setup = await endpointOver(server, limited.token, DOCS);
  await must(server, limited.token, 'mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: 3 }) { id } }');
  const { status, answers } = await mcpBatch(setup, limited.token, Array.from({ length: MAX_BATCH_MESSAGES }, () => searchCall(setup)));
  expect(status).toBe(200);
  const codes = answers.map((answer) => (answer.result.isError ? answer.result.structuredContent.error.code : 'ok'));
  const answered = codes.filter((code) => code === 'ok').length;
  // Three at once (the burst: the door's one and two more), and one a second after: a batch
  // costs what its calls sent one by one would. Before, all 16 ran on the door's one request.
  expect(answered).toBeGreaterThanOrEqual(3);
  expect(answered).toBeLessThanOrEqual(8);
  expect(codes.filter((code) => code !== 'ok')).toEqual(Array(MAX_BATCH_MESSAGES - answered).fill('RATE_LIMITED'));
});
