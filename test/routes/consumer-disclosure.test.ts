/**
 * What a consumer refused by an endpoint's policy learns, on every door (GraphQL, REST, the
 * OpenAI-compatible chat, MCP): the code, the policy's type and the reason, never the policy's
 * internal id unless the caller may read the endpoint's tenant's policies anyway (its own members
 * and keys); and what discovery by address (MCP's tools) tells a caller the policies turn away:
 * that they may not use the endpoint, not its name or description.
 * The endpoint owner's audit trail keeps the policy's id.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, must, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy, manualClock, outcome } from '../support/policies.js';
import { restQuery } from '../support/rest.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const QUESTION = 'how does the lock keeper fill the chamber';
const NAME = 'Staff rota handbook';
const DESCRIPTION = 'Internal: the lock keepers’ night rota and gate codes.';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let outsider: Tenant;
/** The owner tenant's read-only API key: a program of the tenant, which may read its policies. */
let ownKey: string;
/** Published, unlisted, open to anonymous callers, over the fake model server; an allow list nobody matches. */
let guarded: EndpointSetup;
let policyId: string;
const clients: Client[] = [];
/** Still: a rate limit's retryAfterSeconds is exact. */
const clock = manualClock();

beforeAll(async () => {
  [fake, server] = await Promise.all([startFakeOpenAI(), startTestServer({ clock })]);
  [owner, outsider] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  ownKey = (await createApiKey(server, owner.token, { name: 'reader', scopes: ['READ'] })).body.data.createApiKey.secret;
  guarded = await endpointOver(server, owner.token, DOCS, {
    published: true,
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
  });
  await must(server, owner.token, 'mutation($id: ID!, $i: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $i) { id } }', {
    id: guarded.endpointId,
    i: { name: NAME, description: DESCRIPTION, allowAnonymous: true },
  });
  policyId = (await createPolicy(server, owner.token, guarded.endpointId, 'access', { mode: 'allow', patterns: ['*@nobody.test'] })).id;
}, 120_000);
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('a policy denial names the policy only to callers who may read it', () => {
  it('GraphQL queryEndpoint: another tenant’s member and an anonymous caller get the type and reason; the tenant’s own member and key get the id too', async () => {
    expect(await outcome(server, outsider.token, guarded.reference)).toEqual({
      code: 'POLICY_DENIED',
      extensions: { code: 'POLICY_DENIED', policyType: 'access', reason: 'EMAIL_NOT_VOUCHED' },
      message: expect.stringMatching(/^The endpoint admits listed emails only/),
    });
    const anonymous = await server.graphql('query($e: String!) { queryEndpoint(endpoint: $e, query: "lock keeper") { answer } }', { variables: { e: guarded.reference } });
    expect(anonymous.body.errors[0].extensions).toEqual({ code: 'POLICY_DENIED', policyType: 'access', reason: 'NOT_ALLOWED' });
    expect((await outcome(server, owner.token, guarded.reference)).extensions).toEqual({ code: 'POLICY_DENIED', policyId, policyType: 'access', reason: 'NOT_ALLOWED' });
    expect((await outcome(server, ownKey, guarded.reference)).extensions).toEqual({ code: 'POLICY_DENIED', policyId, policyType: 'access', reason: 'NO_EMAIL' });
    // The owner's audit trail names the policy whoever was refused.
    const denied = await auditEventsOf(server, owner.token, 4, { action: 'policy.denied' });
    const stored = databaseIdOf(policyId);
    expect(denied.map((event) => [event.details.endpointSlug, event.details.policyId])).toEqual(Array(4).fill([guarded.reference.split('/')[1], stored]));
  });

  it('REST: the problem details say the same as GraphQL, per caller', async () => {
    const outside = await restQuery(server, guarded.reference, { query: QUESTION }, { token: outsider.token });
    expect(outside.status).toBe(403);
    expect(outside.body).toEqual({
      type: 'urn:sluice:error:POLICY_DENIED',
      title: 'POLICY_DENIED',
      status: 403,
      detail: expect.stringMatching(/^The endpoint admits listed emails only/),
      instance: expect.stringMatching(/^urn:request:/),
      requestId: expect.any(String),
      code: 'POLICY_DENIED',
      policyType: 'access',
      reason: 'EMAIL_NOT_VOUCHED',
    });
    const inside = await restQuery(server, guarded.reference, { query: QUESTION }, { token: owner.token });
    expect(inside.body).toMatchObject({ code: 'POLICY_DENIED', policyId, policyType: 'access', reason: 'NOT_ALLOWED' });
  });

  it('OpenAI chat completions: `sluice` holds the type and reason for an outsider, the id too for the tenant’s own key', async () => {
    const ask = (apiKey: string) =>
      new OpenAI({ baseURL: `${server.baseUrl}/v1`, apiKey, maxRetries: 0 }).chat.completions.create({ model: guarded.reference, messages: [{ role: 'user', content: QUESTION }] }).then(
        () => {
          throw new Error('the query was answered');
        },
        (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
      );
    const outside = await ask(outsider.token);
    expect(outside).toMatchObject({ status: 403, code: 'POLICY_DENIED', type: 'permission_error' });
    expect((outside.error as any).sluice).toEqual({ policyType: 'access', reason: 'EMAIL_NOT_VOUCHED', requestId: expect.any(String) });
    expect(((await ask(ownKey)).error as any).sluice).toEqual({ policyId, policyType: 'access', reason: 'NO_EMAIL', requestId: expect.any(String) });
  });

  it('a rate limit’s refusal keeps retryAfterSeconds for an outsider, and names the policy to the tenant’s own key', async () => {
    const limited = await endpointOver(server, owner.token, DOCS, { published: true });
    const limit = await createPolicy(server, owner.token, limited.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 600, scope: 'global' });
    expect((await outcome(server, outsider.token, limited.reference)).code).toBe('ok');
    expect(await outcome(server, outsider.token, limited.reference)).toEqual({
      code: 'RATE_LIMITED',
      extensions: { code: 'RATE_LIMITED', policyType: 'rate_limit', reason: 'RATE_LIMIT', retryAfterSeconds: 600 },
      message: 'At most 1 queries per 600 s (global)',
    });
    expect((await outcome(server, ownKey, limited.reference)).extensions).toEqual({ code: 'RATE_LIMITED', policyId: limit.id, policyType: 'rate_limit', reason: 'RATE_LIMIT', retryAfterSeconds: 600 });
    // `myUsage` names the limit's policy on the same terms.
    const allowances = async (token: string) =>
      (await must(server, token, 'query($e: String!) { myUsage(endpoint: $e) { allowances { policyId policyType limit used } } }', { e: limited.reference })).myUsage.allowances;
    expect(await allowances(outsider.token)).toEqual([{ policyId: null, policyType: 'rate_limit', limit: 1, used: 1 }]);
    expect(await allowances(ownKey)).toEqual([{ policyId: limit.id, policyType: 'rate_limit', limit: 1, used: 1 }]);
  });
});

describe('discovery by address tells a refused caller only that they may not use the endpoint', () => {
  /** tools/list over plain JSON-RPC, as a client without the SDK sends it. */
  const toolsList = async (headers: Record<string, string>) => {
    const response = await fetch(new URL(`/mcp/${guarded.reference}`, server.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    return { status: response.status, text: await response.text() };
  };

  it('MCP: another tenant’s member and an anonymous caller are refused with the query’s refusal, never the name or description', async () => {
    for (const [headers, reason] of [
      [bearer(outsider.token), 'EMAIL_NOT_VOUCHED'],
      [{}, 'NOT_ALLOWED'],
    ] as const) {
      const listed = await toolsList(headers);
      expect(listed.status).toBe(403);
      expect(listed.text).not.toContain(NAME);
      expect(listed.text).not.toContain(DESCRIPTION);
      expect(JSON.parse(listed.text).error.data).toEqual({ code: 'POLICY_DENIED', policyType: 'access', reason, requestId: expect.any(String) });
    }
    // The tenant's own member sees its tools, described, and a call's refusal names the policy.
    const client = new Client({ name: 'sluice-test', version: '1.0.0' });
    clients.push(client);
    await client.connect(new StreamableHTTPClientTransport(new URL(`/mcp/${guarded.reference}`, server.baseUrl), { requestInit: { headers: bearer(owner.token) } }));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.title)).toEqual([`Search ${NAME}`, `Ask ${NAME}`]);
    const result = await client.callTool({ name: tools[1]!.name, arguments: { query: QUESTION } });
    expect(result.structuredContent).toEqual({ error: { code: 'POLICY_DENIED', message: expect.any(String), policyId, policyType: 'access', reason: 'NOT_ALLOWED' } });
  });
});
