/**
 * The OpenAI-compatible door (`/v1/chat/completions`, `/v1/models`) driven by the official
 * `openai` client against the real server, whose endpoint's model is the fake model server
 * (the real OpenAI protocol over HTTP). The answer equals GraphQL's for the same question;
 * refusals are the client's typed errors; a stream the client aborts is a CANCELLED query.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, must, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { externalToken, JwksServer, newKey, REGISTER_PROVIDER } from '../support/identity-provider.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy } from '../support/policies.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [
  { title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' },
  { title: 'Weirs', text: 'A weir holds water back across a river. Water flows over the crest of the weir.' },
];
const QUESTION = 'how does the lock fill';
const ANSWER = { deltas: ['The keeper ', 'opens the gates ', '[1].'], usage: { prompt_tokens: 120, completion_tokens: 9 } };
const ISSUER = 'https://partner.example.test';
const AUDIENCE = 'sluice-openai-test';

let server: TestServer;
let fake: FakeOpenAI;
let jwks: JwksServer;
let acme: Tenant;
let other: Tenant;
/** acme's credentials of every kind: a user's token, an API key, an external identity's token. */
const credentials: Record<'user' | 'apiKey' | 'external', string> = { user: '', apiKey: '', external: '' };
let answered: EndpointSetup;
let hidden: EndpointSetup;

const fakeModel = () => ({ name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' }, promptMicrosPer1k: 1000, completionMicrosPer1k: 2000 });
/**
 * The usage records of an endpoint's queries, once its `endpoint.query` audit event (written in
 * the same transaction) is there: the audit writer is asynchronous, so this waits for it.
 */
async function usageRecordedFor(setup: EndpointSetup) {
  const slug = setup.reference.split('/')[1];
  const deadline = Date.now() + 10_000;
  while (!(await auditEventsOf(server, acme.token, 0, { action: 'endpoint.query' })).some((event) => event.details.endpointSlug === slug)) {
    if (Date.now() > deadline) throw new Error(`no endpoint.query event for ${slug}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { rows } = await withClient(server.database.ownerUrl, (db) => db.query('select outcome, caller_kind from usage_records where endpoint_slug = $1', [slug]));
  return rows;
}

/** The official client as a Sluice consumer: no retries, so a refusal is seen once, as it is. */
const client = (apiKey: string) => new OpenAI({ baseURL: `${server.baseUrl}/v1`, apiKey, maxRetries: 0 });

beforeAll(async () => {
  [fake, server, jwks] = await Promise.all([startFakeOpenAI(), startTestServer(), Promise.resolve(new JwksServer())]);
  await jwks.start();
  const key = await newKey('rsa-1', 'RS256');
  jwks.published = [key];
  [acme, other] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  credentials.user = acme.token;
  const apiKey = await createApiKey(server, acme.token, { name: 'openai client', scopes: ['READ'] });
  credentials.apiKey = apiKey.body.data.createApiKey.secret;
  await must(server, acme.token, REGISTER_PROVIDER, {
    input: { name: 'Partner', issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, roleClaim: 'roles', roleMapping: { reader: 'VIEWER' } },
  });
  credentials.external = await externalToken(key, { email: 'partner@example.test', roles: ['reader'] }, { issuer: ISSUER, audience: AUDIENCE });
  [answered, hidden] = await Promise.all([endpointOver(server, acme.token, DOCS, { model: fakeModel() }), endpointOver(server, other.token, DOCS, { model: fakeModel() })]);
});
afterAll(async () => {
  // Every failure above was a coded one: none reached the log as unexpected.
  expect(server.logs.filter((line) => /OpenAI-compatible .* failed unexpectedly/.test(String(line.msg)))).toEqual([]);
  await server?.close();
  await fake?.close();
  await jwks?.stop();
});

describe('chat completions', () => {
  it('answers the last user message as GraphQL does, with the passages and citations in `sluice`', async () => {
    fake.script(ANSWER);
    const graphql = await queryEndpoint(server, acme.token, answered.reference, QUESTION);
    expect(graphql.errors).toBeUndefined();
    const expected = graphql.data.queryEndpoint;

    fake.script(ANSWER);
    const before = fake.requests.length;
    const completion = await client(credentials.apiKey).chat.completions.create({
      model: answered.reference,
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'what is a weir' },
        { role: 'assistant', content: 'A weir holds water back.' },
        { role: 'user', content: [{ type: 'text', text: 'how does' }, { type: 'text', text: 'the lock fill' }] },
      ],
      temperature: 0.3,
    });
    expect(completion).toMatchObject({ object: 'chat.completion', model: answered.reference, id: expect.stringMatching(/^chatcmpl-/) });
    expect(completion.choices).toEqual([{ index: 0, message: { role: 'assistant', content: expected.answer, refusal: null }, logprobs: null, finish_reason: 'stop' }]);
    expect(completion.usage).toEqual({ prompt_tokens: expected.usage.promptTokens, completion_tokens: expected.usage.completionTokens, total_tokens: expected.usage.totalTokens });
    const extra = (completion as unknown as { sluice: Record<string, any> }).sluice;
    expect(extra.citations).toEqual(expected.citations);
    expect(extra.citations).toEqual([{ marker: 1, chunkId: expected.passages[0].chunkId, documentTitle: 'Locks' }]);
    expect(extra.passages.map((passage: any) => [passage.rank, passage.chunkId, passage.text])).toEqual(expected.passages.map((passage: any) => [passage.rank, passage.chunkId, passage.text]));
    expect(extra.costMicros).toBe(expected.usage.costMicros);
    // The model was asked the last user message, its text parts joined.
    expect(JSON.stringify(fake.requests[before]!.body.messages)).toContain('how does\\nthe lock fill');
  });

  it('streams the same text in chunks: the role first, the finish with citations, then the usage', async () => {
    fake.script(ANSWER);
    const graphql = await queryEndpoint(server, acme.token, answered.reference, QUESTION);
    const expected = graphql.data.queryEndpoint;

    fake.script(ANSWER);
    const stream = await client(credentials.user).chat.completions.create({
      model: answered.reference,
      messages: [{ role: 'user', content: QUESTION }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.id === chunks[0]!.id && chunk.model === answered.reference)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const pieces = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? ''));
    expect(pieces.filter(Boolean)).toEqual(ANSWER.deltas);
    expect(pieces.join('')).toBe(expected.answer);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]!.finish_reason).toBe('stop');
    expect((finish as unknown as { sluice: Record<string, any> }).sluice.citations).toEqual(expected.citations);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: expected.usage.promptTokens, completion_tokens: expected.usage.completionTokens, total_tokens: expected.usage.totalTokens } });
  });

  it('a stream the client aborts cancels the query: the model call is closed and the usage row says CANCELLED', async () => {
    // A piece every 100 ms for 10 s: only the client can end it early.
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const setup = await endpointOver(server, acme.token, DOCS, { model: fakeModel() });
    const before = fake.requests.length;
    const controller = new AbortController();
    const stream = await client(credentials.user).chat.completions.create(
      { model: setup.reference, messages: [{ role: 'user', content: QUESTION }], stream: true },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    // The client ends its iteration quietly once its signal aborts.
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (text) seen.push(text);
      if (seen.length === 2) controller.abort();
    }
    expect(seen).toEqual(['Piece 0. ', 'Piece 1. ']);
    await fake.requests[before]!.closed;
    expect(fake.requests[before]!.finished).toBe(false);
    expect(await usageRecordedFor(setup)).toEqual([{ outcome: 'CANCELLED', caller_kind: 'user' }]);
    const doors = await auditEventsOf(server, acme.token, 1, { action: 'openai.chat', outcome: 'CANCELLED' });
    expect(doors.find((event) => event.details.endpoint === setup.reference)).toMatchObject({ outcome: 'CANCELLED', details: { stream: true } });
  });
  it('a request the client aborts before the answer is complete cancels the query too', async () => {
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const setup = await endpointOver(server, acme.token, DOCS, { model: fakeModel() });
    const before = fake.requests.length;
    const controller = new AbortController();
    const asked = client(credentials.apiKey).chat.completions.create({ model: setup.reference, messages: [{ role: 'user', content: QUESTION }] }, { signal: controller.signal });
    await fake.requestsReached(before + 1);
    controller.abort();
    await expect(asked).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await fake.requests[before]!.closed;
    expect(fake.requests[before]!.finished).toBe(false);
    expect(await usageRecordedFor(setup)).toEqual([{ outcome: 'CANCELLED', caller_kind: 'apiKey' }]);
  });
});

describe('a model server that fails', () => {
  it('is 502 UPSTREAM_ERROR before an answer, and the last event of a stream after it started', async () => {
    fake.script({ garbage: 'not the protocol' });
    const error = await client(credentials.user)
      .chat.completions.create({ model: answered.reference, messages: [{ role: 'user', content: QUESTION }] })
      .then(
        () => null,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toMatchObject({ status: 502, code: 'UPSTREAM_ERROR', type: 'upstream_error', error: { sluice: { reason: 'BAD_RESPONSE' } } });

    fake.script({ garbage: 'not the protocol' });
    const stream = await client(credentials.user).chat.completions.create({ model: answered.reference, messages: [{ role: 'user', content: QUESTION }], stream: true });
    const chunks: unknown[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) chunks.push(chunk);
    })().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(chunks).toEqual([expect.objectContaining({ choices: [expect.objectContaining({ delta: { role: 'assistant', content: '' } })] })]);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(failure).toMatchObject({ code: 'UPSTREAM_ERROR', type: 'upstream_error' });
  });
});

describe('models', () => {
  it('lists the endpoints the caller may ask, as models named by reference; not another tenant’s unpublished one', async () => {
    for (const credential of [credentials.user, credentials.apiKey, credentials.external]) {
      const models = [];
      for await (const model of client(credential).models.list()) models.push(model);
      const ids = models.map((model) => model.id);
      expect(ids).toContain(answered.reference);
      expect(ids).not.toContain(hidden.reference);
      expect(models.find((model) => model.id === answered.reference)).toEqual({ id: answered.reference, object: 'model', created: expect.any(Number), owned_by: acme.tenant.slug });
      expect(ids.every((id) => id.startsWith(`${acme.tenant.slug}/`))).toBe(true);
    }
    expect((await client(other.token).models.list()).data.map((model) => model.id)).toEqual([hidden.reference]);
    expect(await client(credentials.user).models.retrieve(answered.reference)).toMatchObject({ id: answered.reference, owned_by: acme.tenant.slug });
    await expect(client(credentials.user).models.retrieve(hidden.reference)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('lists nothing to a caller with no credential while no listed endpoint admits anonymous callers', async () => {
    const response = await fetch(`${server.baseUrl}/v1/models`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ object: 'list', data: [] });
  });
});

describe('refusals are the client’s typed errors', () => {
  const ask = (apiKey: string, model: string) => client(apiKey).chat.completions.create({ model, messages: [{ role: 'user', content: QUESTION }] });
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  };

  it('another tenant’s unpublished endpoint is NotFoundError 404 with every credential kind, streaming or not', async () => {
    for (const [kind, credential] of Object.entries(credentials)) {
      const error = await refusal(ask(credential, hidden.reference));
      expect([kind, error]).toEqual([kind, expect.any(OpenAI.NotFoundError)]);
      expect(error).toMatchObject({ status: 404, code: 'NOT_FOUND', type: 'not_found_error', error: { message: 'Endpoint not found', param: null } });
      expect((error.error as any).sluice.requestId).toBe(error.headers?.get('x-request-id'));
      const streamed = await refusal(client(credential).chat.completions.create({ model: hidden.reference, messages: [{ role: 'user', content: QUESTION }], stream: true }));
      expect(streamed).toBeInstanceOf(OpenAI.NotFoundError);
    }
    // Same as an endpoint that does not exist.
    expect(await refusal(ask(credentials.user, `${other.tenant.slug}/no-such-endpoint`))).toMatchObject({ status: 404, code: 'NOT_FOUND', error: { message: 'Endpoint not found' } });
  });

  it('with no credential: NOT_FOUND where the endpoint is unpublished, UNAUTHENTICATED where it is published without allowAnonymous, an answer where it allows anonymous callers', async () => {
    const anonymously = (model: string) =>
      fetch(`${server.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: QUESTION }] }),
      });
    for (const model of [hidden.reference, answered.reference]) {
      const response = await anonymously(model);
      expect(response.status).toBe(404);
      expect((await response.json()).error).toMatchObject({ code: 'NOT_FOUND' });
    }
    const published = await endpointOver(server, acme.token, DOCS, { model: fakeModel(), published: true });
    const refused = await anonymously(published.reference);
    expect(refused.status).toBe(401);
    expect((await refused.json()).error).toMatchObject({ code: 'UNAUTHENTICATED', type: 'authentication_error' });
    await must(server, acme.token, 'mutation($id: ID!) { updateEndpoint(id: $id, input: { allowAnonymous: true }) { id } }', { id: published.endpointId });
    // The fake model answers as the last test told it to (an earlier one scripts garbage).
    fake.script(ANSWER);
    const served = await anonymously(published.reference);
    expect(served.status).toBe(200);
    expect((await served.json()).choices[0].message.content).toEqual(expect.any(String));
  });

  it('a policy denial is PermissionDeniedError 403 naming the policy', async () => {
    const setup = await endpointOver(server, acme.token, DOCS, { model: fakeModel() });
    const policy = await createPolicy(server, acme.token, setup.endpointId, 'access', { mode: 'deny', patterns: ['*@*'] });
    const error = await refusal(ask(credentials.user, setup.reference));
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(error).toMatchObject({ status: 403, code: 'POLICY_DENIED', type: 'permission_error' });
    expect((error.error as any).sluice).toMatchObject({ policyId: policy.id, policyType: 'access', reason: 'ACCESS_DENIED', requestId: expect.any(String) });
    // On the caller's audit trail, the request's event names the endpoint it was refused.
    const doors = await auditEventsOf(server, acme.token, 1, { action: 'openai.chat', outcome: 'POLICY_DENIED' });
    expect(doors.find((event) => event.details.endpoint === setup.reference)).toMatchObject({ details: { stream: false } });
  });

  it('a rate limit is RateLimitError 429 with Retry-After', async () => {
    fake.script(ANSWER);
    const setup = await endpointOver(server, acme.token, DOCS, { model: fakeModel() });
    await createPolicy(server, acme.token, setup.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 60, scope: 'global' });
    expect((await ask(credentials.apiKey, setup.reference)).choices[0]!.message.content).toBe('The keeper opens the gates [1].');
    const error = await refusal(ask(credentials.apiKey, setup.reference));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'RATE_LIMITED', type: 'rate_limit_error' });
    const retryAfter = Number(error.headers?.get('retry-after'));
    expect(retryAfter).toBe((error.error as any).sluice.retryAfterSeconds);
    expect(retryAfter).toBeGreaterThan(0);
  });

  it('a bad key is AuthenticationError 401', async () => {
    for (const api of [client('sk-not-a-sluice-key').models.list(), ask('sk-not-a-sluice-key', answered.reference)]) {
      const error = await refusal(api);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', type: 'authentication_error' });
    }
  });
});

describe('malformed requests are 400 with a clear message', () => {
  const cases: [string, Record<string, unknown>, { message: RegExp; param: string | null; code: string }][] = [
    ['no user message', { messages: [{ role: 'system', content: 'Be brief.' }] }, { message: /user message/, param: 'messages', code: 'BAD_USER_INPUT' }],
    ['no messages', { messages: [] }, { message: /^messages: /, param: 'messages', code: 'BAD_USER_INPUT' }],
    ['a model that is not "tenant/endpoint"', { model: 'gpt-4o' }, { message: /tenant-slug\/endpoint-slug/, param: 'model', code: 'BAD_USER_INPUT' }],
    ['a model with a bad slug', { model: 'Acme/../x' }, { message: /tenant-slug\/endpoint-slug/, param: 'model', code: 'BAD_USER_INPUT' }],
    ['NUL in a message', { messages: [{ role: 'user', content: 'lock\u0000keeper' }] }, { message: /NUL/, param: 'messages.0.content', code: 'BAD_USER_INPUT' }],
    ['an image part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.test/a.png' } }] }] }, { message: /only text parts/, param: 'messages.0.content.0', code: 'BAD_USER_INPUT' }],
    ['an unknown role', { messages: [{ role: 'robot', content: 'hi' }] }, { message: /^messages\.0\.role: /, param: 'messages.0.role', code: 'BAD_USER_INPUT' }],
    ['n > 1', { n: 2 }, { message: /n must be 1/, param: 'n', code: 'BAD_USER_INPUT' }],
    ['a temperature out of range', { temperature: 7 }, { message: /^temperature: /, param: 'temperature', code: 'BAD_USER_INPUT' }],
    ['an empty question', { messages: [{ role: 'user', content: '   ' }] }, { message: /last user message is the endpoint's query/, param: 'messages', code: 'BAD_USER_INPUT' }],
  ];
  for (const [name, change, expected] of cases) {
    it(name, async () => {
      const body = { model: answered.reference, messages: [{ role: 'user', content: QUESTION }], ...change };
      const error = await client(credentials.user)
        .chat.completions.create(body as never)
        .then(
          () => null,
          (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
        );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, code: expected.code, param: expected.param, type: 'invalid_request_error' });
      expect(error!.error).toMatchObject({ message: expect.stringMatching(expected.message) });
    });
  }

  it('a body that is not JSON is 400 BAD_REQUEST; another method is 405', async () => {
    const post = await fetch(`${server.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${acme.token}` }, body: '{"model":' });
    expect(post.status).toBe(400);
    expect((await post.json()).error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('must be JSON') });
    const get = await fetch(`${server.baseUrl}/v1/chat/completions`, { headers: { authorization: `Bearer ${acme.token}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('a body not sent as application/json is 415, a cross-site form or text/plain post included: the query never runs', async () => {
    const asked = fake.requests.length;
    for (const type of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const post = await fetch(`${server.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': type, origin: 'http://evil.example', authorization: `Bearer ${acme.token}` },
        body: JSON.stringify({ model: answered.reference, messages: [{ role: 'user', content: QUESTION }] }),
      });
      expect({ type, status: post.status }).toEqual({ type, status: 415 });
      expect((await post.json()).error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as JSON, with Content-Type: application/json.' });
    }
    // Refused before the query: the model was never asked (the responses above came after the refusal was decided).
    expect(fake.requests.length).toBe(asked);
  });

  it('any other path under /v1 is a 404 in OpenAI’s shape, which the official client raises as NotFoundError', async () => {
    const api = client(credentials.user);
    const error = await api.embeddings.create({ model: answered.reference, input: 'lock' }).then(
      () => null,
      (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'NOT_FOUND', type: 'not_found_error' });
    for (const path of ['/v1/responses', '/v1/chat/completions/', '/v1', '/v1//chat/completions']) {
      const response = await fetch(`${server.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${acme.token}` }, body: '{}' });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect((await response.json()).error).toMatchObject({ code: 'NOT_FOUND', type: 'not_found_error', sluice: { requestId: expect.any(String) } });
    }
  });
});

describe('models across tenants', () => {
  const UPDATE = 'mutation($id: ID!, $i: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $i) { id } }';
  const anonymousIds = async () => ((await (await fetch(`${server.baseUrl}/v1/models`)).json()) as { data: { id: string }[] }).data.map((model) => model.id);

  it('lists another tenant’s listed published endpoint to a key holder, not an unlisted one; anonymous callers see only listed ones that allow them', async () => {
    const [listed, unlisted, open] = await Promise.all([
      endpointOver(server, other.token, DOCS, { model: fakeModel() }),
      endpointOver(server, other.token, DOCS, { model: fakeModel() }),
      endpointOver(server, other.token, DOCS, { model: fakeModel() }),
    ]);
    await must(server, other.token, UPDATE, { id: listed.endpointId, i: { published: true, listed: true } });
    await must(server, other.token, UPDATE, { id: unlisted.endpointId, i: { published: true } });
    await must(server, other.token, UPDATE, { id: open.endpointId, i: { published: true, listed: true, allowAnonymous: true } });

    const ids = (await client(credentials.apiKey).models.list()).data.map((model) => model.id);
    expect(ids).toContain(answered.reference);
    expect(ids).toEqual(expect.arrayContaining([listed.reference, open.reference]));
    expect(ids).not.toContain(unlisted.reference);
    expect(new Set(ids).size).toBe(ids.length);
    // The owner's own listed endpoint once, not again from the catalog.
    const own = (await client(other.token).models.list()).data.map((model) => model.id);
    expect(own.filter((id) => id === listed.reference)).toEqual([listed.reference]);

    expect(await anonymousIds()).toEqual([open.reference]);
    await must(server, other.token, UPDATE, { id: open.endpointId, i: { listed: false } });
    await must(server, other.token, UPDATE, { id: listed.endpointId, i: { listed: false } });
  });
});
