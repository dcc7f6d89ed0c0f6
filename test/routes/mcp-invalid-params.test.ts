/**
 * MCP requests whose `params` do not fit their method (tool arguments that are not an object, a
 * tool name that is not a string, `initialize` without its fields) are the caller's mistake:
 * JSON-RPC -32602 Invalid params, with a readable message naming the field and `data.code`
 * BAD_USER_INPUT (src/routes/mcp/tool-server.ts). They used to be -32603 Internal error whose
 * message was the SDK's raw zod issue dump. The same connection then answers a good call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, type EndpointSetup } from '../support/endpoints.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: Tenant;
let docs: EndpointSetup;

beforeAll(async () => {
  server = await startTestServer();
  owner = await tenantWithOwner(server);
  docs = await endpointOver(server, owner.token, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }]);
}, 120_000);
afterAll(() => server?.close());

/** One JSON-RPC request over plain HTTP; the answer's one JSON-RPC message, whether JSON or SSE. */
async function rpc(message: Record<string, unknown>) {
  const response = await fetch(new URL(`/mcp/${docs.reference}`, server.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${owner.token}`, 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('text/event-stream') ? text.split('\n').find((line) => line.startsWith('data: '))!.slice(6) : text;
  return { status: response.status, text, message: JSON.parse(json) };
}

describe('malformed MCP params', () => {
  const slug = () => docs.reference.split('/')[1];
  const cases: [string, () => Record<string, unknown>, string][] = [
    ['tool arguments that are a list', () => ({ method: 'tools/call', params: { name: `ask_${slug()}`, arguments: [1] } }), 'params.arguments'],
    ['a tool name that is a number', () => ({ method: 'tools/call', params: { name: 5 } }), 'params.name'],
    ['initialize without its fields', () => ({ method: 'initialize', params: {} }), 'params.protocolVersion'],
    ['tools/call without params', () => ({ method: 'tools/call' }), 'params'],
  ];
  for (const [what, message, field] of cases) {
    it(`${what} is -32602 Invalid params naming ${field}, BAD_USER_INPUT`, async () => {
      const { status, text, message: answer } = await rpc({ id: 3, ...message() });
      expect(status).toBe(200);
      expect({ id: answer.id, code: answer.error?.code, dataCode: answer.error?.data?.code }).toEqual({ id: 3, code: -32602, dataCode: 'BAD_USER_INPUT' });
      expect(answer.error.message).toContain(`Invalid params for ${message().method}: ${field}`);
      expect(answer.error.data.issues[0].path).toBe(field);
      // Not the raw issue dump.
      expect(text).not.toContain('\\"expected\\"');
      expect(answer.error.message).not.toContain('\n');
    });
  }

  it('a well-formed call still answers, from the same server', async () => {
    const { message: answer } = await rpc({ id: 4, method: 'tools/call', params: { name: `search_${slug()}`, arguments: { query: 'lock keeper' } } });
    expect(answer.error).toBeUndefined();
    expect(answer.result.isError ?? false).toBe(false);
  });
});
