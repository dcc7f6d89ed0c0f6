/**
 * MCP over Streamable HTTP (routes/mcp.ts), driven by the official SDK's own client against the
 * real server: the tools an endpoint becomes, search and ask answering what GraphQL answers,
 * progress notifications, another tenant's published endpoint with every credential kind,
 * refusals (policy, credential, rate limit, another tenant's unpublished endpoint with every
 * credential kind and none, Origin, bad input), a cancelled call recorded as CANCELLED, and
 * the `mcp.request` audit events.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, must, queryEndpoint, uniqueSlug, usageOutcomes, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy } from '../support/policies.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [
  { title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' },
  { title: 'Weirs', text: 'A weir holds water back across a river. Water flows over the crest of the weir.' },
];
const QUESTION = 'how does the lock keeper fill the chamber';
const CONSOLE_ORIGIN = 'https://console.example.test';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let other: Tenant;
/** An extractive endpoint (answers are deterministic) with a description, and one over the fake model server. */
let docs: EndpointSetup;
let llm: EndpointSetup;
/** The other tenant's credentials of every kind: a user's token, an API key, an external identity's token. */
const otherCredentials: Record<string, Record<string, string>> = {};
const clients: Client[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // Rate limits on, roomy for the file's own bursts; one test tightens its tenant's limit.
  server = await startTestServer({
    env: {
      CORS_ORIGINS: CONSOLE_ORIGIN,
      SLUICE_RATE_LIMITS: 'on',
      SLUICE_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_RATE_LIMIT_BURST: '1000',
      SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000',
      SLUICE_IP_RATE_LIMIT_BURST: '1000',
    },
  });
  [owner, other] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  docs = await endpointOver(server, owner.token, DOCS);
  await must(server, owner.token, `mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { id } }`, {
    id: docs.endpointId,
    input: { name: 'Canal handbook', description: 'How locks and weirs move water and boats.' },
  });
  llm = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
  });
  otherCredentials.user = { authorization: `Bearer ${other.token}` };
  const key = await createApiKey(server, other.token, { name: 'reader', scopes: ['READ'] });
  otherCredentials.apiKey = { authorization: `Bearer ${key.body.data.createApiKey.secret}` };
  otherCredentials.external = { authorization: `Bearer ${await externalTokenOf(other)}` };
}, 120_000);
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** An identity provider registered by `tenant`, and a token it signed. */
async function externalTokenOf(tenant: Tenant): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const issuer = `https://idp.${uniqueSlug('mcp')}.example.test`;
  await must(server, tenant.token, `mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id } }`, {
    input: { name: 'Partner IdP', issuer, audience: 'sluice', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }, roleClaim: 'role', roleMapping: { reader: 'VIEWER' } },
  });
  return new SignJWT({ role: 'reader', email: 'partner@partner.example.test' })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
    .setIssuer(issuer)
    .setAudience('sluice')
    .setSubject('partner-1')
    .setExpirationTime('1h')
    .sign(privateKey);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const endpointPath = (setup: EndpointSetup) => `/mcp/${setup.reference}`;

/** The SDK's client, connected (initialize + initialized) to `path` with `headers`. */
async function connect(path: string, headers: Record<string, string> = bearer(owner.token)): Promise<Client> {
  const client = new Client({ name: 'sluice-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(path, server.baseUrl), { requestInit: { headers } });
  clients.push(client);
  await client.connect(transport);
  return client;
}

/** What connecting fails with: the HTTP status the SDK reports. */
async function connectFailure(path: string, headers: Record<string, string>): Promise<number | undefined> {
  const error = await connect(path, headers).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(StreamableHTTPError);
  return (error as StreamableHTTPError).code;
}

/** One JSON-RPC request over plain HTTP, as a client without the SDK sends it. */
async function rawRpc(path: string, message: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(new URL(path, server.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: response.headers.get('content-type')?.includes('application/json') ? JSON.parse(text) : undefined };
}

const initialize = { id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

describe('tools', () => {
  it('an endpoint is two tools, named for its slug and described from its name and description', async () => {
    const client = await connect(endpointPath(docs));
    const { tools } = await client.listTools();
    const slug = docs.reference.split('/')[1];
    expect(tools.map((tool) => tool.name)).toEqual([`search_${slug}`, `ask_${slug}`]);
    for (const tool of tools) {
      expect(tool.description).toContain('Canal handbook');
      expect(tool.description).toContain('How locks and weirs move water and boats.');
      expect(tool.inputSchema).toMatchObject({ type: 'object', properties: { query: { type: 'string' }, topK: { type: 'integer' } }, required: ['query'] });
    }
    expect(client.getInstructions()).toContain(docs.reference);
  });

  it('/mcp lists the tools of every endpoint of the caller’s own tenant, for a user and an API key alike', async () => {
    const client = await connect('/mcp');
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    for (const setup of [docs, llm]) {
      const slug = setup.reference.split('/')[1];
      expect(names).toEqual(expect.arrayContaining([`search_${slug}`, `ask_${slug}`]));
    }
    // A read API key of the tenant sees the same tools, sent as X-API-Key.
    const key = await createApiKey(server, owner.token, { name: uniqueSlug('mcp-reader'), scopes: ['READ'] });
    const withKey = await connect('/mcp', { 'x-api-key': key.body.data.createApiKey.secret });
    expect((await withKey.listTools()).tools.map((tool) => tool.name)).toEqual(names);
    // The other tenant's /mcp lists none of them.
    const theirs = (await (await connect('/mcp', bearer(other.token))).listTools()).tools.map((tool) => tool.name);
    expect(theirs.filter((name) => names.includes(name))).toEqual([]);
  });
});

describe('calls', () => {
  it('search returns the passages GraphQL returns for the same question, one progress notification per passage', async () => {
    const client = await connect(endpointPath(docs));
    const progress: Progress[] = [];
    const slug = docs.reference.split('/')[1];
    const recorded = (await usageOutcomes(server.database, docs.endpointId)).length;
    const result = await client.callTool({ name: `search_${slug}`, arguments: { query: QUESTION } }, undefined, { onprogress: (update) => progress.push(update) });
    const graphql = await queryEndpoint(server, owner.token, docs.reference, QUESTION, undefined, 'passages { rank chunkId documentId documentTitle text score }');
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { passages: unknown[]; usage: { completionTokens: number } };
    expect(structured.passages).toEqual(graphql.data.queryEndpoint.passages);
    expect(structured.passages.length).toBeGreaterThan(0);
    expect(structured.usage.completionTokens).toBe(0);
    // A search is a query in usage (and quotas): recorded, without the model's tokens.
    expect((await usageOutcomes(server.database, docs.endpointId, recorded + 1)).slice(recorded, recorded + 1)).toEqual(['ok']);
    expect(JSON.parse((result.content as { text: string }[])[0]!.text)).toEqual(structured);
    const passages = structured.passages as { rank: number; documentTitle: string }[];
    expect(progress.map((update) => update.message)).toEqual(passages.map((passage) => `Passage ${passage.rank}: ${passage.documentTitle}`));
    expect(progress.map((update) => update.progress)).toEqual(passages.map((_, index) => index + 1));
  });

  it('ask returns the answer and citations GraphQL returns, with progress for passages and answer pieces', async () => {
    const client = await connect(endpointPath(docs));
    const progress: Progress[] = [];
    const slug = docs.reference.split('/')[1];
    const result = await client.callTool({ name: `ask_${slug}`, arguments: { query: QUESTION, topK: 1 } }, undefined, { onprogress: (update) => progress.push(update) });
    const graphql = await queryEndpoint(server, owner.token, docs.reference, QUESTION, { topK: 1 }, 'answer citations { marker chunkId documentTitle }');
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { answer: string; citations: unknown[] };
    expect(structured.answer).toBe(graphql.data.queryEndpoint.answer);
    expect(structured.answer).toMatch(/\[1\]/);
    expect(structured.citations).toEqual(graphql.data.queryEndpoint.citations);
    expect(progress[0]!.message).toBe('Passage 1: Locks');
    expect(progress.slice(1).map((update) => update.message).join('')).toBe(structured.answer);
  });

  it('streams the model’s answer pieces as progress, in order', async () => {
    fake.script({ deltas: ['The keeper ', 'opens the gates ', '[1].'] });
    const client = await connect(endpointPath(llm));
    const progress: Progress[] = [];
    const result = await client.callTool({ name: `ask_${llm.reference.split('/')[1]}`, arguments: { query: QUESTION } }, undefined, { onprogress: (update) => progress.push(update) });
    expect((result.structuredContent as { answer: string }).answer).toBe('The keeper opens the gates [1].');
    expect(progress.filter((update) => !update.message!.startsWith('Passage ')).map((update) => update.message)).toEqual(['The keeper ', 'opens the gates ', '[1].']);
  });
});

describe('another tenant’s published endpoint', () => {
  it('is reachable at its address with the other tenant’s credentials of every kind', async () => {
    const published = await endpointOver(server, owner.token, DOCS, { published: true });
    const slug = published.reference.split('/')[1];
    for (const [kind, headers] of Object.entries(otherCredentials)) {
      const client = await connect(endpointPath(published), headers);
      const result = await client.callTool({ name: `search_${slug}`, arguments: { query: QUESTION } });
      expect({ kind, isError: result.isError ?? false, first: (result.structuredContent as any).passages[0].documentTitle }).toEqual({ kind, isError: false, first: 'Locks' });
    }
  });
});

describe('refusals', () => {
  it('a policy refusal is a tool result with isError and POLICY_DENIED', async () => {
    const setup = await endpointOver(server, owner.token, DOCS);
    const policy = await createPolicy(server, owner.token, setup.endpointId, 'access', { mode: 'deny', patterns: ['*@*'] });
    const client = await connect(endpointPath(setup));
    const result = await client.callTool({ name: `ask_${setup.reference.split('/')[1]}`, arguments: { query: QUESTION } });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toMatch(/^POLICY_DENIED: /);
    expect(result.structuredContent).toMatchObject({ error: { code: 'POLICY_DENIED', policyId: policy.id, reason: 'ACCESS_DENIED' } });
  });

  it('bad input is BAD_USER_INPUT naming the field; an unknown tool is a JSON-RPC error', async () => {
    const client = await connect(endpointPath(docs));
    const slug = docs.reference.split('/')[1];
    const outcomes = [];
    for (const args of [{ query: QUESTION, topK: 0 }, { query: '   ' }, { query: 42 }, { query: QUESTION, top_k: 3 }, { query: 'lock\u0000keeper' }]) {
      const result = await client.callTool({ name: `search_${slug}`, arguments: args as Record<string, unknown> });
      outcomes.push([result.isError, (result.structuredContent as { error: { code: string; field: string } }).error]);
    }
    expect(outcomes.map(([isError, error]) => [isError, (error as any).code, (error as any).field])).toEqual([
      [true, 'BAD_USER_INPUT', 'topK'],
      [true, 'BAD_USER_INPUT', 'query'],
      [true, 'BAD_USER_INPUT', 'query'],
      [true, 'BAD_USER_INPUT', 'top_k'],
      [true, 'BAD_USER_INPUT', 'query'],
    ]);
    await expect(client.callTool({ name: 'ask_nothing-here', arguments: { query: QUESTION } })).rejects.toThrow(/Unknown tool "ask_nothing-here"/);
  });

  it('a bad credential is HTTP 401 with WWW-Authenticate and UNAUTHENTICATED; none at /mcp is 401 too', async () => {
    expect(await connectFailure(endpointPath(docs), bearer('sk_not_a_real_key'))).toBe(401);
    const refused = await rawRpc(endpointPath(docs), initialize, bearer('sk_not_a_real_key'));
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(refused.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, data: { code: 'UNAUTHENTICATED' } } });
    const anonymous = await rawRpc('/mcp', initialize);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(anonymous.json.error.data.code).toBe('UNAUTHENTICATED');
  });

  it('a caller over its per-principal limit is HTTP 429 with Retry-After and RATE_LIMITED', async () => {
    const limited = await tenantWithOwner(server);
    const setup = await endpointOver(server, limited.token, DOCS);
    await must(server, limited.token, 'mutation { updateTenantSettings(input: { rateLimitPerSecond: 1, rateLimitBurst: 1 }) { id } }');
    const answers = [];
    for (let attempt = 0; attempt < 5; attempt += 1) answers.push(await rawRpc(endpointPath(setup), initialize, bearer(limited.token)));
    const refused = answers.find((answer) => answer.status !== 200);
    expect(refused?.status).toBe(429);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused!.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, data: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) } } });
  });

  it('another tenant’s unpublished endpoint is NOT_FOUND with every credential kind, and answers none like a missing one', async () => {
    for (const [kind, headers] of Object.entries(otherCredentials)) {
      expect({ kind, status: await connectFailure(endpointPath(docs), headers) }).toEqual({ kind, status: 404 });
      for (const message of [initialize, { id: 2, method: 'tools/list' }, { id: 3, method: 'tools/call', params: { name: `ask_${docs.reference.split('/')[1]}`, arguments: { query: QUESTION } } }]) {
        const refused = await rawRpc(endpointPath(docs), message, { ...headers, 'mcp-protocol-version': '2025-06-18' });
        expect({ kind, method: message.method, status: refused.status, code: refused.json?.error?.data?.code }).toEqual({ kind, method: message.method, status: 404, code: 'NOT_FOUND' });
        expect(refused.text).not.toContain('Canal handbook');
      }
    }
    // Without a credential, the endpoint is refused exactly as one that does not exist.
    const [tenantSlug] = docs.reference.split('/');
    const missing = await rawRpc(`/mcp/${tenantSlug}/no-such-endpoint`, initialize);
    const hidden = await rawRpc(endpointPath(docs), initialize);
    expect([hidden.status, hidden.json.error.data.code]).toEqual([missing.status, missing.json.error.data.code]);
    expect(hidden.text).not.toContain('Canal handbook');
  });

  it('a browser page is 403 unless its origin is on CORS_ORIGINS, even one naming the Host (DNS rebinding); a body not UTF-8 JSON is 400; GET is 405', async () => {
    const foreign = await rawRpc(endpointPath(docs), initialize, { ...bearer(owner.token), origin: 'https://evil.example.test' });
    expect([foreign.status, foreign.json.error.data.code]).toEqual([403, 'FORBIDDEN']);
    // A rebinding page's Origin names the same host as the request's Host header.
    const rebound = await rawRpc(endpointPath(docs), initialize, { ...bearer(owner.token), origin: server.baseUrl });
    expect(rebound.status).toBe(403);
    const listed = await rawRpc(endpointPath(docs), initialize, { ...bearer(owner.token), origin: CONSOLE_ORIGIN });
    expect(listed.status).toBe(200);
    const notJson = await fetch(new URL(endpointPath(docs), server.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...bearer(owner.token) },
      body: '{"jsonrpc": "2.0", "id": 1, ',
    });
    expect([notJson.status, (await notJson.json()).error]).toEqual([400, expect.objectContaining({ code: -32700, data: expect.objectContaining({ code: 'BAD_REQUEST' }) })]);
    const notUtf8 = await fetch(new URL(endpointPath(docs), server.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...bearer(owner.token) },
      body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]),
    });
    expect([notUtf8.status, (await notUtf8.json()).error.data.code]).toEqual([400, 'BAD_REQUEST']);
    const get = await fetch(new URL(endpointPath(docs), server.baseUrl), { headers: { ...bearer(owner.token), accept: 'text/event-stream' } });
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  });
});

describe('cancellation', () => {
  it('a client that cancels a slow ask stops the model call, and the usage is recorded CANCELLED', async () => {
    // A piece every 100 ms for 10 s: only the cancellation can end it early.
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const before = fake.requests.length;
    const recorded = (await usageOutcomes(server.database, llm.endpointId)).length;
    const client = await connect(endpointPath(llm));
    const controller = new AbortController();
    let answering!: () => void;
    const answerStarted = new Promise<void>((resolve) => (answering = resolve));
    const call = client.callTool({ name: `ask_${llm.reference.split('/')[1]}`, arguments: { query: 'lock' } }, undefined, {
      signal: controller.signal,
      onprogress: (update) => {
        if (update.message?.startsWith('Piece')) answering();
      },
    });
    await answerStarted;
    controller.abort('changed my mind');
    await expect(call).rejects.toThrow();
    await fake.requests[before]!.closed;
    expect(fake.requests[before]!.finished).toBe(false);
    expect((await usageOutcomes(server.database, llm.endpointId, recorded + 1)).slice(recorded)).toEqual(['CANCELLED']);
    // The cancellation came as its own request (stateless: another MCP server) and still reached the call.
    const events = await auditEventsOf(server, owner.token, 1, { action: 'mcp.request', outcome: 'CANCELLED' });
    expect(events.at(-1)).toMatchObject({ outcome: 'CANCELLED', details: { methods: ['tools/call'], tools: [`ask_${llm.reference.split('/')[1]}`] } });
  });

  it('a client that closes the response stream mid-answer stops the model call too', async () => {
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const before = fake.requests.length;
    const recorded = (await usageOutcomes(server.database, llm.endpointId)).length;
    const controller = new AbortController();
    const response = await fetch(new URL(endpointPath(llm), server.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...bearer(owner.token) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: `ask_${llm.reference.split('/')[1]}`, arguments: { query: 'lock' }, _meta: { progressToken: 'p' } } }),
      signal: controller.signal,
    });
    // Read until a piece of the answer has arrived as progress: the model is streaming.
    const reader = response.body!.getReader();
    let seen = '';
    while (!seen.includes('Piece 0.')) seen += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await fake.requests[before]!.closed;
    expect(fake.requests[before]!.finished).toBe(false);
    expect((await usageOutcomes(server.database, llm.endpointId, recorded + 1)).slice(recorded)).toEqual(['CANCELLED']);
  });
});

describe('audit', () => {
  it('every request is an mcp.request event on the caller’s chain, without the query text or the credential', async () => {
    const query = `canal audit probe ${uniqueSlug('q')}`;
    const client = await connect(endpointPath(docs));
    await client.callTool({ name: `search_${docs.reference.split('/')[1]}`, arguments: { query } });
    const events = await auditEventsOf(server, owner.token, 3, { action: 'mcp.request' });
    const call = events.find((event) => event.details.tools?.length);
    expect(call).toMatchObject({ action: 'mcp.request', outcome: 'ok', actorKind: 'user', details: { route: docs.reference, methods: ['tools/call'] } });
    expect(events.map((event) => event.details.methods).flat()).toEqual(expect.arrayContaining(['initialize', 'notifications/initialized', 'tools/call']));
    const trail = JSON.stringify(await auditEventsOf(server, owner.token, 1, {}));
    expect(trail).not.toContain(query);
    expect(trail).not.toContain(owner.token);
  });
});

describe('anonymous callers', () => {
  it('reach an endpoint that allows them with no credential; a published one that does not is 401, an unpublished one 404', async () => {
    const open = await endpointOver(server, owner.token, DOCS, { published: true });
    const closed = await endpointOver(server, owner.token, DOCS, { published: true });
    const hidden = await endpointOver(server, owner.token, DOCS, { published: false });
    await must(server, owner.token, 'mutation($id: ID!) { updateEndpoint(id: $id, input: { allowAnonymous: true }) { id } }', { id: open.endpointId });
    const client = await connect(endpointPath(open), {});
    const slug = open.reference.split('/')[1];
    const result = await client.callTool({ name: `search_${slug}`, arguments: { query: QUESTION } });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as { passages: unknown[] }).passages.length).toBeGreaterThan(0);
    expect(await connectFailure(endpointPath(closed), {})).toBe(401);
    expect(await connectFailure(endpointPath(hidden), {})).toBe(404);
  });
});
