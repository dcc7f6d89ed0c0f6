/**
 * The isolation sweep of the consumer surfaces (issue 20, item 6): tenant B's unpublished
 * endpoint, asked for by its address on every door a consumer can use (GraphQL query and
 * subscription, REST JSON and SSE, OpenAI-compatible chat and model lookup, MCP), with each of
 * tenant A's credentials (users of every role, API keys of every scope, an external identity)
 * and with none: NOT_FOUND every time (FORBIDDEN, before any lookup, for keys whose scopes do
 * not include asking endpoints), exactly what an address that does not exist gets, and
 * no answer names B's endpoint or holds B's text. The lists (catalog, /v1/models, MCP tools)
 * never show it. B's own owner reaches it on every door (the positive control: the sweep's
 * requests are ones that would work).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { populatedTenant, type Credential, type PopulatedTenant } from '../support/populated-tenant.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let a: PopulatedTenant;
let b: PopulatedTenant;
let hidden: EndpointSetup;
const SECRET_TEXT = 'Bravo keeps its ledger of tide tables behind the lock keeper’s door.';

beforeAll(async () => {
  server = await startTestServer();
  a = await populatedTenant(server, 'Alpha');
  b = await populatedTenant(server, 'Bravo');
  hidden = await endpointOver(server, b.owner.accessToken, [{ title: 'Bravo ledger', text: SECRET_TEXT }]);
}, 180_000);
afterAll(() => server?.close());

const NONE: Credential = { name: 'none', headers: {} };
const QUESTION = 'ledger tide tables';

interface Door {
  name: string;
  /** The HTTP status and the Sluice code the door answered with, and the raw text. */
  ask(reference: string, credential: Credential): Promise<{ status: number; code: string | null; text: string }>;
}

async function send(path: string, credential: Credential, init: { method?: string; body?: unknown; accept?: string }) {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json', accept: init.accept ?? 'application/json', ...credential.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, json, text };
}

const DOORS: Door[] = [
  {
    name: 'GraphQL queryEndpoint',
    async ask(reference, credential) {
      const query = 'query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) { answer passages { text } } }';
      const { status, json, text } = await send('/graphql', credential, { body: { query, variables: { e: reference, q: QUESTION } } });
      return { status, code: json?.errors?.[0]?.extensions?.code ?? (json?.data?.queryEndpoint ? 'ok' : null), text };
    },
  },
  {
    name: 'GraphQL endpointQuery subscription (SSE)',
    async ask(reference, credential) {
      const query = 'subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { __typename } }';
      const { status, text } = await send('/graphql', credential, { body: { query, variables: { e: reference, q: QUESTION } }, accept: 'text/event-stream' });
      const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? (text.includes('EndpointQueryCompleted') ? 'ok' : null);
      return { status, code, text };
    },
  },
  {
    name: 'REST query (JSON)',
    async ask(reference, credential) {
      const { status, json, text } = await send(`/api/v1/endpoints/${reference}/query`, credential, { body: { query: QUESTION } });
      return { status, code: json?.code ?? (json?.answer !== undefined ? 'ok' : null), text };
    },
  },
  {
    name: 'REST query (SSE)',
    async ask(reference, credential) {
      const { status, json, text } = await send(`/api/v1/endpoints/${reference}/query`, credential, { body: { query: QUESTION }, accept: 'text/event-stream' });
      return { status, code: json?.code ?? (text.includes('event: completed') ? 'ok' : null), text };
    },
  },
  {
    name: 'OpenAI chat completions',
    async ask(reference, credential) {
      const { status, json, text } = await send('/v1/chat/completions', credential, { body: { model: reference, messages: [{ role: 'user', content: QUESTION }] } });
      return { status, code: json?.error?.code ?? (json?.choices ? 'ok' : null), text };
    },
  },
  {
    name: 'OpenAI model lookup',
    async ask(reference, credential) {
      const { status, json, text } = await send(`/v1/models/${reference}`, credential, { method: 'GET' });
      return { status, code: json?.error?.code ?? (json?.id ? 'ok' : null), text };
    },
  },
  {
    name: 'MCP initialize',
    async ask(reference, credential) {
      const body = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sweep', version: '1' } } };
      const { status, json, text } = await send(`/mcp/${reference}`, credential, { body, accept: 'application/json, text/event-stream' });
      const code = json?.error?.data?.code ?? (status === 200 && text.includes('"result"') ? 'ok' : null);
      return { status, code, text };
    },
  },
];

it('B’s owner reaches B’s unpublished endpoint on every door (positive control)', async () => {
  const owner: Credential = { name: 'B:OWNER', headers: { authorization: `Bearer ${b.owner.accessToken}` } };
  for (const door of DOORS) {
    const { status, code } = await door.ask(hidden.reference, owner);
    expect({ door: door.name, status, code }).toEqual({ door: door.name, status: 200, code: 'ok' });
  }
});

it('every door answers NOT_FOUND to each of A’s credentials and to none, as for an address that does not exist', { timeout: 300_000 }, async () => {
  const missing = `${hidden.reference.split('/')[0]}/${uniqueSlug('nothing')}`;
  const endpointSlug = hidden.reference.split('/')[1]!;
  const seen: string[] = [];
  const wrong: string[] = [];
  for (const credential of [...a.credentials, NONE]) {
    for (const door of DOORS) {
      const asked = await door.ask(hidden.reference, credential);
      const absent = await door.ask(missing, credential);
      seen.push(`${credential.name} ${door.name}`);
      const leaked = [SECRET_TEXT.slice(0, 30), 'Bravo ledger'].filter((secret) => asked.text.includes(secret));
      // Keys whose scopes lack endpoint:query (WRITE and ADMIN alone) are refused before any lookup.
      const expected = /key-(WRITE|ADMIN)$/.test(credential.name) ? 'FORBIDDEN' : 'NOT_FOUND';
      if (asked.code !== expected || asked.status !== absent.status || asked.code !== absent.code || leaked.length > 0) {
        wrong.push(`${credential.name} ${door.name}: ${asked.status} ${asked.code} (missing address: ${absent.status} ${absent.code}) leaked ${JSON.stringify(leaked)}: ${asked.text.slice(0, 200)}`);
      }
      // The answer may echo the address asked for, never anything else of B's endpoint.
      expect(asked.text.replaceAll(hidden.reference, '').includes(endpointSlug)).toBe(false);
    }
  }
  expect(wrong).toEqual([]);
  expect(seen).toHaveLength((a.credentials.length + 1) * DOORS.length);
});

it('no list shows B’s unpublished endpoint: the catalog (GraphQL and REST), /v1/models, MCP tools', async () => {
  const slug = hidden.reference.split('/')[1]!;
  for (const credential of [...a.credentials, NONE]) {
    const lists = [
      await send('/graphql', credential, { body: { query: '{ catalog(first: 100) { edges { node { address name } } } }' } }),
      await send('/api/v1/endpoints?first=100', credential, { method: 'GET' }),
      await send('/v1/models', credential, { method: 'GET' }),
    ];
    if (credential !== NONE) {
      const body = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
      lists.push(await send('/mcp', credential, { body, accept: 'application/json, text/event-stream' }));
    }
    for (const list of lists) {
      expect(list.status, `${credential.name}: ${list.text.slice(0, 200)}`).toBeLessThan(500);
      expect(list.text.includes(slug), `${credential.name} sees ${slug}: ${list.text.slice(0, 200)}`).toBe(false);
    }
  }
});
