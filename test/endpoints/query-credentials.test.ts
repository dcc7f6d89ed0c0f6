/**
 * `queryEndpoint` answers to its credential while it runs, as the consumer doors' streams and
 * the `endpointQuery` subscription do (plugins/credential-watch.ts, through
 * QueryService.prepare): a key revoked, a member removed or a session logged out while the
 * model answers ends the query within the re-check interval with UNAUTHENTICATED, over plain
 * HTTP, with `@defer` (multipart/mixed) and as a query over graphql-ws, and the model request
 * is closed before its end. Before, every form ran to the model's last piece and answered 200
 * with the whole answer to a caller whose credential was already refused everywhere else.
 *
 * The model server is test/support/fake-openai.ts over real HTTP, scripted slow (40 pieces
 * 150 ms apart).
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { closedBeforeItsEnd, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { revocableKey, signUp } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { seedTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const PIECES = 40;
const ASK = `query($e: String!) { queryEndpoint(endpoint: $e, query: "lock") { answer } }`;
const ASK_DEFERRED = `query($e: String!) { queryEndpoint(endpoint: $e, query: "lock") { passages { rank } ... @defer(label: "answer") { answer } } }`;

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let llm: EndpointSetup;

const modelOf = () => ({ name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } });

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_CREDENTIAL_RECHECK_MS: '200', SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(server);
  llm = await endpointOver(server, owner.token, DOCS, { model: modelOf() });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A fresh READ key of the owner's tenant, and how to revoke it. */
const freshKey = () => revocableKey(server, owner.token, uniqueSlug('query'));

/** A slow answer for the next model request; `started` resolves once Sluice asked the model, with its index. */
function slowModel(): { started: Promise<number> } {
  fake.script({ deltas: Array.from({ length: PIECES }, (_, index) => `Piece ${index}. `), delayMs: 150 });
  const index = fake.requests.length;
  return { started: fake.requestsReached(index + 1).then(() => index) };
}

/** The model double saw its request closed by Sluice before it finished answering. */
const expectModelRequestClosed = async (index: number) => expect(await closedBeforeItsEnd(fake, index)).toBe(true);

function askOverHttp(headers: Record<string, string>, query = ASK, accept = 'application/json') {
  return fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...headers },
    body: JSON.stringify({ query, variables: { e: llm.reference } }),
  });
}

/** Every error of a multipart/mixed response, its parts' own and their incremental items'. */
function multipartErrors(text: string): { parts: any[]; errors: any[] } {
  const parts = text
    .split(/\r?\n---/)
    .map((part) => part.slice(part.indexOf('{')))
    .filter((part) => part.startsWith('{'))
    .map((part) => JSON.parse(part));
  const errors = parts.flatMap((part) => [...(part.errors ?? []), ...(part.incremental ?? []).flatMap((item: any) => item.errors ?? [])]);
  return { parts, errors };
}

/** The answer of a plain HTTP queryEndpoint: 401 UNAUTHENTICATED, no answer. */
async function expectRefusedAnswer(response: Response, message: RegExp) {
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(401);
  expect(body.data).toBeNull();
  expect(body.errors).toEqual([expect.objectContaining({ message: expect.stringMatching(message), extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
}

describe('revoking an API key ends its queryEndpoint mid-answer', () => {
  it('over plain HTTP: 401 UNAUTHENTICATED instead of the answer', async () => {
    const key = await freshKey();
    const model = slowModel();
    const response = askOverHttp({ 'x-api-key': key.secret });
    const index = await model.started;
    await key.revoke();
    await expectRefusedAnswer(await response, /revoked/i);
    await expectModelRequestClosed(index);
  });

  it('with @defer over multipart/mixed: the passages, then the deferred answer fails with UNAUTHENTICATED', async () => {
    const key = await freshKey();
    const model = slowModel();
    const answered = await askOverHttp({ authorization: `Bearer ${key.secret}` }, ASK_DEFERRED, 'multipart/mixed');
    expect(answered.headers.get('content-type')).toMatch(/^multipart\/mixed/);
    // Revoked once the passages have arrived (a key revoked before they are sent refuses them
    // too: the whole result is UNAUTHENTICATED), and while the model answers.
    const body = answered.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!/"hasNext":\s*true/.test(text)) {
      const { value, done } = await body.read();
      if (done) break;
      text += value;
    }
    const index = await model.started;
    await key.revoke();
    for (let chunk = await body.read(); !chunk.done; chunk = await body.read()) text += chunk.value;
    const { parts, errors } = multipartErrors(text);
    expect(parts[0].data.queryEndpoint.passages).toEqual([{ rank: 1 }]);
    expect(errors).toEqual([expect.objectContaining({ message: expect.stringMatching(/revoked/i), extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    expect(parts.at(-1).hasNext).toBe(false);
    await expectModelRequestClosed(index);
  });

  it('as a query over graphql-ws: its one result is UNAUTHENTICATED', async () => {
    const key = await freshKey();
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { apiKey: key.secret } });
    try {
      const model = slowModel();
      const results: any[] = [];
      const ended = (async () => {
        for await (const result of client.iterate({ query: ASK, variables: { e: llm.reference } })) results.push(result);
      })();
      const index = await model.started;
      await key.revoke();
      await ended;
      expect(results).toHaveLength(1);
      expect(results[0].data).toBeNull();
      expect(results[0].errors).toEqual([expect.objectContaining({ message: expect.stringMatching(/revoked/i), extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
      await expectModelRequestClosed(index);
    } finally {
      await client.dispose();
    }
  });
});

describe('a removed member or an ended session ends its queryEndpoint mid-answer', () => {
  it('a member removed while the model answers: 401 UNAUTHENTICATED, the model request closed', async () => {
    const tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }] });
    const own = await endpointOver(server, await server.tokenFor(tenant, tenant.users[0]!), DOCS, { model: modelOf() });
    const member = tenant.users[1]!;
    const model = slowModel();
    const response = fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await server.tokenFor(tenant, member)}` },
      body: JSON.stringify({ query: ASK, variables: { e: own.reference } }),
    });
    const index = await model.started;
    await withClient(server.database.ownerUrl, (db) => db.query('delete from memberships where id = $1', [member.membershipId]));
    await expectRefusedAnswer(await response, /./);
    await expectModelRequestClosed(index);
  });

  it('a session logged out while the model answers, with @defer: the deferred answer fails with UNAUTHENTICATED', async () => {
    const account = await signUp(server);
    const own = await endpointOver(server, account.accessToken, DOCS, { model: modelOf() });
    const model = slowModel();
    const response = fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed', authorization: `Bearer ${account.accessToken}` },
      body: JSON.stringify({ query: ASK_DEFERRED, variables: { e: own.reference } }),
    });
    const index = await model.started;
    expect((await server.graphql('mutation { logOut }', { token: account.accessToken })).body.data).toEqual({ logOut: true });
    const { errors } = multipartErrors(await (await response).text());
    expect(errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    await expectModelRequestClosed(index);
  });
});
