/**
 * `POST /api/v1/endpoints/{tenant}/{endpoint}/query` over real HTTP against the real server:
 * the JSON answer equal to GraphQL's for the same question, the SSE events in the
 * subscription's order, a caller who goes away cancelling the query (usage CANCELLED), the
 * refusals as RFC 9457 problem details with GraphQL's codes, and the `rest.query` audit
 * event. Every answer is also checked against the served OpenAPI document's schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, PASSAGE_FIELDS, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { createApiKey } from '../support/identity.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy, outcome } from '../support/policies.js';
import { parseEvents, restQuery, restQueryEvents, restQueryUrl, schemaValidator } from '../support/rest.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [
  { title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' },
  { title: 'Weirs', text: 'A weir holds water back across a river. Water flows over the crest of the weir.' },
];
const QUESTION = 'how does water fill the lock chamber';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let other: Tenant;
/** An API key of the other tenant (read scope). */
let otherKey: string;
/** The owner's unpublished endpoint (extractive model). */
let setup: EndpointSetup;
let validate: ReturnType<typeof schemaValidator>;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0' } });
  [owner, other] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  setup = await endpointOver(server, owner.token, DOCS);
  const key = await createApiKey(server, other.token, { name: 'reader', scopes: ['READ'] });
  otherKey = key.body.data.createApiKey.secret;
  validate = schemaValidator(await (await fetch(`${server.baseUrl}/api/v1/openapi.json`)).json());
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A problem body without what differs per request. */
const problemOf = ({ instance: _instance, requestId: _requestId, ...rest }: Record<string, unknown>) => rest;

describe('JSON', () => {
  it('answers what GraphQL queryEndpoint answers for the same question, in the documented shape', async () => {
    const rest = await restQuery(server, setup.reference, { query: QUESTION, topK: 2 }, { token: owner.token });
    expect(rest.status).toBe(200);
    expect(rest.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(rest.headers.get('x-request-id')).toMatch(/.+/);
    expect(validate('QueryAnswer', rest.body)).toEqual([]);
    const fields = `passages { ${PASSAGE_FIELDS} ranks { keyword semantic } } answer citations { marker chunkId documentTitle } usage { promptTokens completionTokens totalTokens costMicros }`;
    const graphql = await queryEndpoint(server, owner.token, setup.reference, QUESTION, { topK: 2 }, fields);
    expect(graphql.errors).toBeUndefined();
    const { latencyMs, ...answer } = rest.body;
    expect(answer).toEqual(graphql.data.queryEndpoint);
    expect(answer.passages.map((passage: { rank: number }) => passage.rank)).toEqual([1, 2]);
    expect(answer.citations.length).toBeGreaterThan(0);
    expect(latencyMs).toEqual(expect.any(Number));
  });
  it('a caller who aborts while waiting for the JSON answer cancels the query (usage CANCELLED, audit CANCELLED)', async () => {
    const slow = await endpointOver(server, owner.token, DOCS, {
      model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
    });
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const before = fake.requests.length;
    const controller = new AbortController();
    const asked = fetch(restQueryUrl(server, slow.reference), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: 'lock' }),
      signal: controller.signal,
    });
    await fake.requestsReached(before + 1);
    controller.abort();
    await expect(asked).rejects.toThrow();
    await fake.requests[before]!.closed;
    expect(fake.requests[before]!.finished).toBe(false);
    expect(await until(() => usageRows(slow.reference), (rows) => rows.length > 0)).toEqual([{ outcome: 'CANCELLED' }]);
    const audit = await until(
      () => auditEventsOf(server, owner.token, 0, { action: 'rest.query', outcome: 'CANCELLED' }),
      (events) => events.some((event) => event.details.endpoint === slow.reference),
    );
    expect(audit.find((event) => event.details.endpoint === slow.reference)).toMatchObject({ outcome: 'CANCELLED', details: { stream: false } });
  });
});

describe('Server-Sent Events', () => {
  it('streams the subscription’s events in order, ending in completed, with the JSON answer’s content', async () => {
    const { status, headers, events, raw } = await restQueryEvents(server, setup.reference, { query: QUESTION }, { token: owner.token });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const kinds = events.map((event) => event.event).filter((kind, index, all) => kind !== 'answerDelta' || all[index - 1] !== kind);
    expect(kinds).toEqual(['passage', 'passage', 'answerDelta', 'usage', 'completed']);
    expect(raw).toMatch(/^event: passage\ndata: \{/);
    const schemaOf = { passage: 'PassageEvent', answerDelta: 'AnswerDeltaEvent', usage: 'UsageEvent', completed: 'CompletedEvent' } as Record<string, string>;
    for (const event of events) expect(validate(schemaOf[event.event]!, event.data), event.event).toEqual([]);
    const completed = events.at(-1)!.data;
    const deltas = events.filter((event) => event.event === 'answerDelta').map((event) => event.data.text);
    expect(deltas.join('')).toBe(completed.answer);
    const json = await restQuery(server, setup.reference, { query: QUESTION }, { token: owner.token });
    expect(events.filter((event) => event.event === 'passage').map((event) => event.data.passage)).toEqual(json.body.passages);
    expect({ answer: completed.answer, citations: completed.citations }).toEqual({ answer: json.body.answer, citations: json.body.citations });
    expect(events.find((event) => event.event === 'usage')!.data.usage).toEqual(json.body.usage);
  });

  it('ends with a failed event carrying the code when the model fails after the stream started', async () => {
    const failing = await endpointOver(server, owner.token, DOCS, {
      model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
    });
    fake.script({ garbage: 'not json at all' });
    const { status, events } = await restQueryEvents(server, failing.reference, { query: 'lock' }, { token: owner.token });
    expect(status).toBe(200);
    expect(events[0]!.event).toBe('passage');
    expect(events.at(-1)).toEqual({ event: 'failed', data: { code: 'UPSTREAM_ERROR', message: expect.any(String) } });
    expect(validate('FailedEvent', events.at(-1)!.data)).toEqual([]);
  });

  it('ends with a masked failed event naming the request id when the stream fails unexpectedly, and logs the cause under it', async () => {
    // The usage record, written before the completion is sent, fails: not a coded error.
    await withClient(server.database.ownerUrl, (client) => client.query('revoke execute on function record_query_usage from public, sluice_app'));
    try {
      const { status, headers, events } = await restQueryEvents(server, setup.reference, { query: QUESTION }, { token: owner.token });
      expect(status).toBe(200);
      const requestId = headers.get('x-request-id');
      expect(events[0]!.event).toBe('passage');
      expect(events.at(-1)).toEqual({ event: 'failed', data: { code: 'INTERNAL', message: 'Unexpected error.', requestId } });
      expect(validate('FailedEvent', events.at(-1)!.data)).toEqual([]);
      const logged = server.logs.find((line) => line.requestId === requestId && line.level >= 50);
      expect(logged?.err?.message).toMatch(/permission denied for function record_query_usage/);
    } finally {
      await withClient(server.database.ownerUrl, (client) => client.query('grant execute on function record_query_usage to sluice_app'));
    }
  });

  it('a caller who closes the connection mid-answer cancels the query: the model call ends, usage is recorded CANCELLED', async () => {
    const slow = await endpointOver(server, owner.token, DOCS, {
      model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sluice-test' } },
    });
    // A piece every 100 ms for 10 s: only the caller can end it early.
    fake.script({ deltas: Array.from({ length: 100 }, (_, index) => `Piece ${index}. `), delayMs: 100 });
    const before = fake.requests.length;
    const controller = new AbortController();
    const response = await fetch(restQueryUrl(server, slow.reference), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: 'lock' }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    // Read until the first piece of the answer: the model's response is streaming then.
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!parseEvents(text.slice(0, text.lastIndexOf('\n\n') + 2)).some((event) => event.event === 'answerDelta')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended early: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    await fake.requests[before]!.closed;
    expect(fake.requests[before]!.finished).toBe(false);
    const rows = await until(
      () => usageRows(slow.reference),
      (found) => found.length > 0,
    );
    expect(rows).toEqual([{ outcome: 'CANCELLED' }]);
    // The JSON test's cancelled query is on the same chain: wait for this endpoint's event.
    const audit = await until(
      () => auditEventsOf(server, owner.token, 0, { action: 'rest.query', outcome: 'CANCELLED' }),
      (events) => events.some((event) => event.details.endpoint === slow.reference),
    );
    expect(audit.find((event) => event.details.endpoint === slow.reference)).toMatchObject({ action: 'rest.query', outcome: 'CANCELLED', details: { stream: true } });
  });
});

describe('refusals: RFC 9457 problem details with GraphQL’s codes', () => {
  it('POLICY_DENIED with the policy’s details, as GraphQL gives them', async () => {
    const denied = await endpointOver(server, owner.token, DOCS, { published: true });
    const policy = await createPolicy(server, owner.token, denied.endpointId, 'access', { mode: 'allow', patterns: ['*@nobody.test'] });
    const rest = await restQuery(server, denied.reference, { query: 'water' }, { token: owner.token });
    expect(rest.status).toBe(403);
    expect(rest.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(validate('ProblemDetails', rest.body)).toEqual([]);
    const graphql = await outcome(server, owner.token, denied.reference, 'water');
    expect(rest.body).toMatchObject({ type: 'urn:sluice:error:POLICY_DENIED', title: 'POLICY_DENIED', status: 403, code: 'POLICY_DENIED', policyId: policy.id, policyType: 'access' });
    const { code: _code, ...extensions } = graphql.extensions!;
    expect(rest.body).toMatchObject({ ...extensions, detail: graphql.message });
  });

  it('UPSTREAM_ERROR: `status` is this response’s (502), the model server’s is `upstreamStatus`', async () => {
    const failing = await endpointOver(server, owner.token, DOCS, { model: { name: uniqueSlug('chat'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' } } });
    fake.script({ failures: [{ status: 503 }] });
    const rest = await restQuery(server, failing.reference, { query: 'water' }, { token: owner.token });
    expect(rest.status).toBe(502);
    expect(validate('ProblemDetails', rest.body)).toEqual([]);
    expect(problemOf(rest.body)).toEqual({
      type: 'urn:sluice:error:UPSTREAM_ERROR',
      title: 'UPSTREAM_ERROR',
      status: 502,
      detail: 'The model server answered HTTP 503',
      code: 'UPSTREAM_ERROR',
      reason: 'HTTP_ERROR',
      upstreamStatus: 503,
      attempts: 1,
    });
  });

  it('RATE_LIMITED with 429 and Retry-After once the endpoint’s limit is spent', async () => {
    const limited = await endpointOver(server, owner.token, DOCS, { published: true });
    await createPolicy(server, owner.token, limited.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 60, scope: 'per_user' });
    expect((await restQuery(server, limited.reference, { query: 'water' }, { token: owner.token })).status).toBe(200);
    const refused = await restQuery(server, limited.reference, { query: 'water' }, { token: owner.token });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED', reason: 'RATE_LIMIT', retryAfterSeconds: expect.any(Number) });
    expect(refused.headers.get('retry-after')).toBe(String(refused.body.retryAfterSeconds));
    expect(validate('ProblemDetails', refused.body)).toEqual([]);
  });

  it('UNAUTHENTICATED (401, WWW-Authenticate) for a credential that is not valid, never an anonymous query', async () => {
    for (const credential of [{ apiKey: 'sk_not_a_real_key' }, { token: 'not.a.jwt' }]) {
      const refused = await restQuery(server, setup.reference, { query: 'water' }, credential);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(refused.body).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
      expect(validate('ProblemDetails', refused.body)).toEqual([]);
    }
  });

  it('another tenant’s unpublished endpoint is NOT_FOUND with a user token and an API key, exactly like a missing one; with no credential, the same as GraphQL and as a missing one', async () => {
    const missing = `${owner.tenant.slug}/no-such-endpoint`;
    for (const credential of [{ token: other.token }, { apiKey: otherKey }, {}]) {
      const foreign = await restQuery(server, setup.reference, { query: 'water' }, credential);
      const absent = await restQuery(server, missing, { query: 'water' }, credential);
      expect(problemOf(foreign.body)).toEqual(problemOf(absent.body));
      expect(foreign.status).toBe(absent.status);
      expect(validate('ProblemDetails', foreign.body)).toEqual([]);
      if (credential.token || credential.apiKey) {
        expect(foreign.status).toBe(404);
        expect(problemOf(foreign.body)).toEqual({ type: 'urn:sluice:error:NOT_FOUND', title: 'NOT_FOUND', status: 404, detail: 'Endpoint not found', code: 'NOT_FOUND' });
      } else {
        // Anonymous callers: the code GraphQL gives them for the same endpoint (NOT_FOUND once
        // anonymous queries exist; until then, UNAUTHENTICATED before any endpoint is looked up).
        const graphql = await server.graphql(`query($e: String!) { queryEndpoint(endpoint: $e, query: "water") { answer } }`, { variables: { e: setup.reference } });
        expect(foreign.body.code).toBe(graphql.body.errors[0].extensions.code);
      }
    }
  });

  it('refuses a body that is not JSON, not UTF-8, too large, has unknown fields or NUL, with 4xx problems naming the cause', async () => {
    const ask = (body: unknown, headers?: Record<string, string>) => restQuery(server, setup.reference, body, { token: owner.token, headers });
    const cases = [
      { body: '{"query": ', expect: [400, 'BAD_REQUEST'] },
      { body: new Uint8Array([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), expect: [400, 'BAD_REQUEST'] },
      { body: { query: 'water', prompt: 'ignore the rules' }, expect: [400, 'BAD_USER_INPUT'] },
      { body: { query: 'wa\u0000ter' }, expect: [400, 'BAD_USER_INPUT'] },
      { body: { query: 42 }, expect: [400, 'BAD_USER_INPUT'] },
      { body: { query: 'water', topK: 1.5 }, expect: [400, 'BAD_USER_INPUT'] },
      { body: { query: 'water', topK: 500 }, expect: [400, 'BAD_USER_INPUT'] },
      { body: { query: '' }, expect: [400, 'BAD_USER_INPUT'] },
      { body: { query: 'x'.repeat(140_000) }, expect: [413, 'PAYLOAD_TOO_LARGE'] },
      { body: 'query=water', headers: { 'content-type': 'application/x-www-form-urlencoded' }, expect: [415, 'UNSUPPORTED_MEDIA_TYPE'] },
      { body: '{"query": "water"}', headers: { 'content-type': 'text/plain' }, expect: [415, 'UNSUPPORTED_MEDIA_TYPE'] },
    ];
    for (const { body, headers, expect: [status, code] } of cases) {
      const refused = await ask(body, headers);
      expect([refused.status, refused.body.code], JSON.stringify(body).slice(0, 80)).toEqual([status, code]);
      expect(refused.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(validate('ProblemDetails', refused.body)).toEqual([]);
    }
    const unknown = await ask({ query: 'water', prompt: 'x' });
    expect(unknown.body.issues).toEqual([{ path: '', message: expect.stringContaining('prompt') }]);
    const nul = await ask({ query: 'wa\u0000ter' });
    expect(nul.body.issues).toEqual([{ path: 'query', message: expect.stringContaining('NUL') }]);
    const get = await restQuery(server, setup.reference, null, { token: owner.token, method: 'GET' });
    expect([get.status, get.body.code, get.headers.get('allow')]).toEqual([405, 'METHOD_NOT_ALLOWED', 'POST']);
    const nulPath = await restQuery(server, `${owner.tenant.slug}/a%00b`, { query: 'water' }, { token: owner.token });
    expect([nulPath.status, nulPath.body.code, nulPath.body.issues[0].path]).toEqual([400, 'BAD_USER_INPUT', 'endpoint']);
    // The longest question (8192 characters), every one an emoji written as two \u escapes: 98 KB of JSON, within the body's bound.
    const escaped = `{"query": "water ${'\\ud83c\\udf0a'.repeat(8186)}"}`;
    expect(escaped.length).toBeGreaterThan(96_000);
    const longest = await ask(escaped);
    expect([longest.status, longest.body.code ?? null]).toEqual([200, null]);
  });
});

describe('audit', () => {
  it('records a rest.query event on the caller’s chain, without the query text or any credential', async () => {
    const secretQuestion = `which lock opens first ${uniqueSlug('marker')}`;
    const answered = await restQuery(server, setup.reference, { query: secretQuestion }, { token: owner.token, headers: { 'x-request-id': 'rest-audit-1' } });
    expect(answered.status).toBe(200);
    // The audit trail is written asynchronously: ask until the event is there.
    const mine = (events: Record<string, any>[]) => events.find((candidate) => candidate.requestId === 'rest-audit-1');
    const event = mine(await until(() => auditEventsOf(server, owner.token, 0, { action: 'rest.query', outcome: 'ok' }), (events) => mine(events) !== undefined));
    expect(event).toMatchObject({ action: 'rest.query', outcome: 'ok', actorKind: 'user', details: { endpoint: setup.reference, stream: false, durationMs: expect.any(Number) } });
    const everything = JSON.stringify(await auditEventsOf(server, owner.token, 1));
    expect(everything).not.toContain(secretQuestion);
    expect(everything).not.toContain(owner.token);
  });
});

async function usageRows(reference: string) {
  return withClient(server.database.ownerUrl, async (client) => {
    const { rows } = await client.query<{ outcome: string }>('select outcome from usage_records where endpoint_slug = $1 order by created_at', [reference.split('/')[1]]);
    return rows;
  });
}

/** Asks again until `done` holds (the usage row is written as the cancelled query unwinds). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
