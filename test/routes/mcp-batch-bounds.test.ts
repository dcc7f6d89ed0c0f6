/**
 * What one MCP HTTP request may cost (routes/mcp.ts, mcp/tool-pages.ts), against the real server:
 * a batch of 100 `tools/list` on a tenant of 100 long-described endpoints was a 5 KB request
 * answered with 57 MB, the event loop held ~6 s, for one request of the per-caller limit. Now a
 * batch holds at most 16 messages, each request message pays its own request, and `tools/list`
 * answers in signed pages of 25 endpoints that the official SDK's client pages through.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_BATCH_MESSAGES } from '../../src/routes/mcp.js';
import { TOOLS_PAGE_ENDPOINTS } from '../../src/routes/mcp/tool-pages.js';
import { endpointOver, must, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];
/** Endpoints of the full tenant: more than two pages. */
const ENDPOINTS = 60;

let server: TestServer;
let owner: Tenant;
let first: EndpointSetup;
/** Every tool name the full tenant's /mcp should list. */
const expectedTools: string[] = [];

beforeAll(async () => {
  server = await startTestServer({
    env: { SLUICE_RATE_LIMITS: 'on', SLUICE_RATE_LIMIT_PER_SECOND: '1000', SLUICE_RATE_LIMIT_BURST: '1000', SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000', SLUICE_IP_RATE_LIMIT_BURST: '1000' },
  });
  owner = await tenantWithOwner(server);
  first = await endpointOver(server, owner.token, DOCS);
  const slugs = [first.reference.split('/')[1]!];
  // The rest share the first's dataset and model; long names and descriptions, as in the report.
  for (let index = 1; index < ENDPOINTS; index += 1) {
    const slug = uniqueSlug('ep');
    await must(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }', {
      input: { name: `Handbook ${index} ${'n'.repeat(180)}`, slug, description: 'd'.repeat(1000), datasetIds: [first.datasetId], modelId: first.modelId },
    });
    slugs.push(slug);
  }
  expectedTools.push(...slugs.flatMap((slug) => [`search_${slug}`, `ask_${slug}`]));
}, 180_000);
afterAll(() => server?.close());

/** A JSON-RPC batch over plain HTTP: status, the body's size, and the answers by id. */
async function batch(path: string, token: string, messages: Record<string, unknown>[]) {
  const response = await fetch(new URL(path, server.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` },
    body: JSON.stringify(messages.map((message, index) => ({ jsonrpc: '2.0', id: index, ...message }))),
  });
  const text = await response.text();
  const answers: any[] = response.headers.get('content-type')?.includes('text/event-stream')
    ? text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)))
    : [JSON.parse(text)].flat();
  return { status: response.status, bytes: Buffer.byteLength(text), answers: answers.sort((a, b) => (a.id ?? -1) - (b.id ?? -1)) };
}

const list = (cursor?: string) => ({ method: 'tools/list', ...(cursor === undefined ? {} : { params: { cursor } }) });

it('refuses a batch of more than 16 messages, of any method, whole and before any runs', async () => {
  const refused = await batch('/mcp', owner.token, Array.from({ length: 100 }, () => list()));
  expect(refused.status).toBe(400);
  expect(refused.answers).toEqual([expect.objectContaining({ id: null, error: expect.objectContaining({ code: -32600, data: expect.objectContaining({ code: 'BAD_REQUEST' }) }) })]);
  expect(refused.answers[0].error.message).toMatch(`at most ${MAX_BATCH_MESSAGES} messages (this one held 100)`);
  expect(refused.bytes).toBeLessThan(1000);
});

it('answers a batch of 16 tools/list with 16 pages of at most 25 endpoints: the output is bounded', async () => {
  const answered = await batch('/mcp', owner.token, Array.from({ length: MAX_BATCH_MESSAGES }, () => list()));
  expect(answered.status).toBe(200);
  expect(answered.answers.map((answer) => answer.result.tools.length)).toEqual(Array(MAX_BATCH_MESSAGES).fill(TOOLS_PAGE_ENDPOINTS * 2));
  // A tool of this tenant is ~2.5 KB: 16 pages of 50 are ~2 MB, where 16 whole lists were ~5 MB (and 100, 57 MB).
  expect(answered.bytes).toBeLessThan(MAX_BATCH_MESSAGES * TOOLS_PAGE_ENDPOINTS * 2 * 3000);
});

it('pages tools/list with nextCursor: the SDK client, following it, gets every tool exactly once', async () => {
  const client = new Client({ name: 'sluice-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', server.baseUrl), { requestInit: { headers: { authorization: `Bearer ${owner.token}` } } }));
  try {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? undefined : { cursor });
      pages.push(page.tools.map((tool) => tool.name));
      cursor = page.nextCursor;
    } while (cursor !== undefined && pages.length < 10);
    expect(pages.map((page) => page.length)).toEqual([50, 50, 20]);
    expect(pages.flat()).toEqual(expectedTools);
    // One endpoint's route is one page without a cursor, as before.
    const single = await batch(`/mcp/${first.reference}`, owner.token, [list()]);
    expect(single.answers[0].result).toEqual({ tools: [expect.objectContaining({ name: expectedTools[0] }), expect.objectContaining({ name: expectedTools[1] })] });
  } finally {
    await client.close();
  }
});

it('refuses a cursor that was altered, made up, or given for another route with -32602', async () => {
  const { answers } = await batch('/mcp', owner.token, [list()]);
  const cursor: string = answers[0].result.nextCursor;
  expect(cursor).toMatch(/\S/);
  const [value, mac] = cursor.split('.') as [string, string];
  const altered = `${Buffer.from('0').toString('base64url')}.${mac}`;
  const flipped = `${value}.${mac.slice(0, -1)}${mac.endsWith('0') ? '1' : '0'}`;
  const refused = await batch('/mcp', owner.token, [list(altered), list(flipped), list('50'), list(''), list(cursor)]);
  expect(refused.answers.map((answer) => answer.error?.code ?? 'ok')).toEqual([-32602, -32602, -32602, -32602, 'ok']);
  expect(refused.answers[0].error.data).toMatchObject({ code: 'BAD_USER_INPUT' });
  // The same cursor on an endpoint's route is not one of its cursors.
  const elsewhere = await batch(`/mcp/${first.reference}`, owner.token, [list(cursor)]);
  expect(elsewhere.answers[0].error.code).toBe(-32602);
  // Nor is it another tenant's on the same route (it was taken there as that tenant's offset),
  // nor another credential's of the same tenant.
  const stranger = await tenantWithOwner(server);
  const foreign = await batch('/mcp', stranger.token, [list(cursor)]);
  expect(foreign.answers[0].error?.code).toBe(-32602);
  const key = await must(server, owner.token, 'mutation { createApiKey(input: { name: "mcp-pages", scopes: [READ] }) { secret } }');
  const byKey = await batch('/mcp', key.createApiKey.secret, [list(cursor)]);
  expect(byKey.answers[0].error?.code).toBe(-32602);
});

it('charges every request message of a batch, not only tools/call, to the per-caller limit', async () => {
  const limited = await tenantWithOwner(server);
  const setup = await endpointOver(server, limited.token, DOCS);
  await must(server, limited.token, 'mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: 3 }) { id } }');
  const { status, answers } = await batch(`/mcp/${setup.reference}`, limited.token, Array.from({ length: MAX_BATCH_MESSAGES }, (_, index) => (index % 4 === 3 ? { method: 'ping' } : list())));
  expect(status).toBe(200);
  const codes = answers.map((answer) => (answer.error ? answer.error.data?.code : 'ok'));
  const answered = codes.filter((code) => code === 'ok').length;
  // The burst's three (the door's one and two more), and about one a second after: the batch
  // costs 16 requests. Before, all 16 were answered on the door's one.
  expect(answered).toBeGreaterThanOrEqual(3);
  expect(answered).toBeLessThanOrEqual(8);
  expect(codes.filter((code) => code !== 'ok')).toEqual(Array(MAX_BATCH_MESSAGES - answered).fill('RATE_LIMITED'));
  expect(answers.find((answer) => answer.error)!.error.data.retryAfterSeconds).toBeGreaterThan(0);
});
