/**
 * What an operation's variables and an upload's `map` may hold is bounded before anything walks
 * them. A list of 450 000 zeros under a variable the query never declared (900 KB, under the
 * body limit) cost an anonymous caller a second of the event loop per request (the NUL check
 * made two objects per value), an object of 90 000 keys as much; an upload's `map` path of
 * 450 000 segments became an object 450 000 levels deep (2.3 s), and a `map` of the wrong
 * shape was INTERNAL ("keyPath.split is not a function"). Now: more than
 * SLUICE_MAX_VARIABLE_VALUES values (10 000, undeclared variables counted) or 128 levels are
 * BAD_USER_INPUT (over HTTP a body of more values is 400 BAD_REQUEST before it is parsed), and a
 * `map` not of the spec's shape is 400 BAD_REQUEST. Real server, over HTTP and graphql-ws.
 */
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDataset, ingestFiles, serverWithOwner } from '../support/ingestion.js';

const context = serverWithOwner();
const MAX = 10_000;
const zeros = (count: number) => Array.from({ length: count }, () => 0);
const NODES = 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }';

/** A GraphQL POST as JSON text, anonymous unless a token is given. */
async function post(body: string, token?: string) {
  const response = await fetch(context.server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** An upload form, anonymous, with the fields as given. */
async function upload(operations: string, map: string) {
  const form = new FormData();
  form.set('operations', operations);
  form.set('map', map);
  form.set('0', new Blob(['plain text'], { type: 'text/plain' }), 'f.txt');
  const response = await fetch(context.server.url, { method: 'POST', headers: { 'x-sluice-csrf': '1', accept: 'application/json' }, body: form });
  return { status: response.status, body: (await response.json()) as any };
}

/** One operation over graphql-ws: its first result. */
async function overWebSocket(query: string, variables: Record<string, unknown>) {
  const client = createClient({ url: context.server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${context.owner.token}` } });
  try {
    for await (const result of client.iterate({ query, variables })) return result as any;
  } finally {
    await client.dispose();
  }
}

const refusedAsBody = (response: { status: number; body: any }) => ({ status: response.status, code: response.body.errors?.[0]?.extensions?.code, message: response.body.errors?.[0]?.message });
const TOO_MANY = `The request's JSON holds more values than an operation's variables may: ${MAX} (SLUICE_MAX_VARIABLE_VALUES), counting every item of every list and field of every object.`;

describe('variables over HTTP', () => {
  it('a 900 KB list or a 90 000-key object is 400 BAD_REQUEST before it is parsed, however many callers send it, and others are answered', async () => {
    const list = JSON.stringify({ query: '{ viewer { kind } }', variables: { a: zeros(450_000) } });
    const keys = JSON.stringify({ query: '{ viewer { kind } }', variables: Object.fromEntries(Array.from({ length: 90_000 }, (_, index) => [`k${index}`, 0])) });
    expect(refusedAsBody(await post(keys))).toEqual({ status: 400, code: 'BAD_REQUEST', message: TOO_MANY });
    // 20 at a time, five by five, with an ordinary request among them.
    const answers: { status: number; code: string; message: string }[] = [];
    for (let round = 0; round < 4; round += 1) {
      const [ordinary, ...hostile] = await Promise.all([post(JSON.stringify({ query: '{ viewer { kind } }' })), ...Array.from({ length: 5 }, () => post(list))]);
      expect(ordinary).toEqual({ status: 200, body: { data: { viewer: { kind: 'ANONYMOUS' } } } });
      answers.push(...hostile.map(refusedAsBody));
    }
    expect(answers).toEqual(Array.from({ length: 20 }, () => ({ status: 400, code: 'BAD_REQUEST', message: TOO_MANY })));
  });

  it('a variable the operation does not declare is ignored, as graphql-js does, but counts toward the bound', async () => {
    const response = await post(JSON.stringify({ query: '{ viewer { kind } }', variables: { a: [0, 0, 0] } }));
    expect(response).toEqual({ status: 200, body: { data: { viewer: { kind: 'ANONYMOUS' } } } });
    // Under the body's own count (a few values), over the variables' bound: refused all the same.
    const over = await post(JSON.stringify({ query: '{ viewer { kind } }', variables: { a: zeros(MAX) } }));
    expect([over.status, over.body.errors?.[0]?.extensions]).toEqual([400, { code: 'BAD_USER_INPUT', limit: 'variableValues', max: MAX }]);
  });

  it(`more than ${MAX} values in declared variables is BAD_USER_INPUT with the limit; ${MAX} reach the operation's own limits`, async () => {
    const token = context.owner.token;
    const over = await post(JSON.stringify({ query: NODES, variables: { ids: zeros(MAX).map(String) } }), token);
    expect({ status: over.status, errors: over.body.errors }).toEqual({
      status: 400,
      errors: [
        {
          message: `The variables hold more than ${MAX} values (SLUICE_MAX_VARIABLE_VALUES), counting every item of every list and field of every object.`,
          extensions: { code: 'BAD_USER_INPUT', limit: 'variableValues', max: MAX },
        },
      ],
    });
    // The variables object is a value too: 9 999 ids are within the bound, and meet nodes' own list limit.
    const within = await post(JSON.stringify({ query: NODES, variables: { ids: zeros(MAX - 2).map(String) } }), token);
    expect(within.body.errors[0].extensions).toMatchObject({ code: 'OPERATION_LIMIT_EXCEEDED', limit: 'listSize' });
    const ordinary = await post(JSON.stringify({ query: 'query($n: String) { datasets(nameContains: $n) { edges { node { id } } } }', variables: { n: 'none such' } }), token);
    expect(ordinary).toEqual({ status: 200, body: { data: { datasets: { edges: [] } } } });
  });
});

describe('every JSON door counts values before it parses', () => {
  // 450 000 zeros as an OpenAI message's content made its schema check record an issue per
  // element: 3 to 15 s of the event loop per anonymous request (900 KB, under the body limit).
  const zerosBody = (path: string) => {
    const many = zeros(450_000);
    if (path === '/v1/chat/completions') return { model: 'a/b', messages: [{ role: 'user', content: many }] };
    if (path.startsWith('/mcp')) return { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search_x', arguments: { query: many } } };
    if (path === '/api/v1/auth/login') return { email: many, password: 'x' };
    // The REST query's own body limit is 128 KiB: 60 000 zeros fit it.
    return { query: zeros(60_000) };
  };
  it.each([
    ['/v1/chat/completions', (body: any) => [body.error?.code, body.error?.type]],
    ['/mcp', (body: any) => [body.error?.data?.code]],
    ['/api/v1/endpoints/acme/handbook/query', (body: any) => [body.code]],
    ['/api/v1/auth/login', (body: any) => [body.code, body.error]],
  ] as const)('%s: 400 BAD_REQUEST, the body never parsed', async (path, read) => {
    const response = await fetch(`${context.server.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(zerosBody(path)) });
    const body = await response.json();
    const expected = { '/v1/chat/completions': ['BAD_REQUEST', 'invalid_request_error'], '/mcp': ['BAD_REQUEST'], '/api/v1/endpoints/acme/handbook/query': ['BAD_REQUEST'], '/api/v1/auth/login': ['BAD_REQUEST', 'invalid_request'] }[path];
    expect([response.status, read(body)]).toEqual([400, expected]);
    expect(JSON.stringify(body)).toContain('holds more than 10000 values');
  });
});

describe("the OpenAI door's lists", () => {
  it('are bounded before the schema walks them: 9 000 content parts (within the value bound) are refused by their count', async () => {
    const ask = (body: unknown) => fetch(`${context.server.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const parts = await ask({ model: 'a/b', messages: [{ role: 'user', content: zeros(9_000) }] });
    expect([parts.status, (await parts.json()).error]).toEqual([400, expect.objectContaining({ code: 'BAD_USER_INPUT', message: 'messages: at most 256 content parts in all', param: 'messages' })]);
    const messages = await ask({ model: 'a/b', messages: Array.from({ length: 1001 }, () => ({ role: 'user', content: 'hi' })) });
    expect([messages.status, (await messages.json()).error?.message]).toEqual([400, 'messages: at most 1000 messages']);
  });
});

describe('variables over graphql-ws, which no body reader sees', () => {
  it('refuses too many values (undeclared variables counted) with BAD_USER_INPUT, and runs ordinary operations', async () => {
    // Far over the bound, a subscribe message is refused by the socket's screen before it is
    // parsed (test/hardening/websocket-messages.test.ts); just over it, by the variables' bound.
    const undeclared = await overWebSocket('{ viewer { kind } }', { a: zeros(MAX + 10) });
    expect(undeclared.errors.map((error: any) => [error.extensions.code, error.extensions.limit])).toEqual([['BAD_USER_INPUT', 'variableValues']]);
    const many = await overWebSocket(NODES, { ids: zeros(MAX + 10).map(String) });
    // (graphql-ws sends the extensions whole: Yoga's HTTP marking, `http`, comes along.)
    const limitOf = ({ extensions: { code, limit, max } }: any) => ({ code, limit, max });
    expect(many.errors.map(limitOf)).toEqual([{ code: 'BAD_USER_INPUT', limit: 'variableValues', max: MAX }]);
    // Nesting past 128 levels never reaches the variables' bound over graphql-ws: the message
    // itself is refused before it is parsed (test/hardening/websocket-messages.test.ts).
    expect(await overWebSocket('query($n: String) { datasets(nameContains: $n) { edges { node { id } } } }', { n: 'none such' })).toEqual({ data: { datasets: { edges: [] } } });
  });
});

describe("an upload's map", () => {
  const operations = JSON.stringify({ query: 'mutation($d: ID!, $files: [File!]) { ingestDocuments(datasetId: $d, files: $files) { id } }', variables: { d: 'x', files: [null] } });
  const refusal = (message: string) => ({ status: 400, code: 'BAD_REQUEST', message });

  it.each([
    ['a path that is not a string', { 0: [1] }, 'The multipart field "map" must give each file a non-empty list of variable paths (strings): "0" has none.'],
    ['no list of paths', { 0: null }, 'The multipart field "map" must give each file a non-empty list of variable paths (strings): "0" has none.'],
    ['a string for the list', { 0: 'variables.files.0' }, 'The multipart field "map" must give each file a non-empty list of variable paths (strings): "0" has none.'],
    ['an empty list', { 0: [] }, 'The multipart field "map" must give each file a non-empty list of variable paths (strings): "0" has none.'],
    ['a list for the map', [['variables.files.0']], 'The multipart field "map" must be a JSON object of file field names to lists of variable paths.'],
    ['a path outside the variables', { 0: ['query'] }, 'The multipart field "map" maps "0" to "query", which is not in the variables (a path starts with "variables.").'],
    ['a path with an empty key', { 0: ['variables..files'] }, 'The multipart field "map" maps "0" to "variables..files", which has an empty key.'],
    ['more files than an upload may carry', Object.fromEntries(zeros(101).map((_, index) => [String(index), [`variables.files.${index}`]])), 'The multipart field "map" names more than 100 files (SLUICE_INGEST_MAX_FILES).'],
    ['more paths than an upload may fill', { 0: zeros(101).map((_, index) => `variables.files.${index}`) }, 'The multipart field "map" maps files to more than 100 paths (SLUICE_INGEST_MAX_FILES).'],
  ])('with %s is 400 BAD_REQUEST', async (_what, map, message) => {
    expect(refusedAsBody(await upload(operations, JSON.stringify(map)))).toEqual(refusal(message));
  });

  it('with a path of 450 000 segments is 400 BAD_REQUEST, nothing built from it', async () => {
    const map = JSON.stringify({ 0: [`variables${'.a'.repeat(450_000)}`] });
    expect(refusedAsBody(await upload(operations, map))).toEqual(refusal('The multipart field "map" maps "0" to a path of more than 129 keys.'));
  });

  it('whose parts name themselves in a way the check cannot read is 400 BAD_REQUEST (Yoga reads them: the checks were skipped)', async () => {
    /** A body written by hand: each part's Content-Disposition as given. */
    const raw = async (parts: [string, string][]) => {
      const boundary = 'sluice-raw';
      const body = parts.map(([disposition, content]) => `--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n${content}\r\n`).join('') + `--${boundary}--\r\n`;
      const response = await fetch(context.server.url, { method: 'POST', headers: { 'x-sluice-csrf': '1', accept: 'application/json', 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
      return { status: response.status, body: (await response.json()) as any };
    };
    const ops = '{"query":"{ __typename }","variables":{}}';
    const unreadable = refusal('A multipart part must name itself as Content-Disposition: form-data; name="…" (quoted, once).');
    for (const disposition of ['form-data; name=map', 'form-data; name="map"; name="x"', 'form-data; name="ma\\"p"', "form-data; name*=UTF-8''map"]) {
      const answer = await raw([['form-data; name="operations"', ops], [disposition, '{"0":[5]}'], ['form-data; name="0"; filename="f.txt"', 'plain text']]);
      expect([disposition, refusedAsBody(answer)]).toEqual([disposition, unreadable]);
    }
    // An unquoted operations holding 450 000 zeros: refused, not parsed.
    expect(refusedAsBody(await raw([['form-data; name=operations', JSON.stringify({ query: '{ __typename }', variables: { a: zeros(450_000) } })], ['form-data; name="map"', '{}']]))).toEqual(unreadable);
    // A text field that claims a file name is still checked as the text field it is.
    expect(refusedAsBody(await raw([['form-data; name="operations"', ops], ['form-data; name="map"; filename="m.json"', '{"0":[5]}'], ['form-data; name="0"; filename="f.txt"', 'x']]))).toEqual(
      refusal('The multipart field "map" must give each file a non-empty list of variable paths (strings): "0" has none.'),
    );
  });

  it('whose operations is no object is 400 BAD_REQUEST, not INTERNAL', async () => {
    expect(refusedAsBody(await upload('null', JSON.stringify({ 0: ['variables.files.0'] })))).toEqual(refusal('The multipart field "operations" must be a JSON object: the operation.'));
  });

  it('to a variable the operation does not declare is the caller’s mistake, not INTERNAL; a well-formed upload is ingested', async () => {
    const undeclared = await upload(operations, JSON.stringify({ 0: ['variables.x'] }));
    // The file went to $x, which nothing reads (graphql-js ignores it); the declared $files kept its null.
    expect(undeclared.body.errors).toEqual([
      expect.objectContaining({ message: 'Variable "$files" got invalid value null at "files[0]"; Expected non-nullable type "File!" not to be null.', extensions: { code: 'BAD_USER_INPUT' } }),
    ]);
    const { server, owner } = context;
    const dataset = await createDataset(server, owner.token);
    const ingested = await ingestFiles(server, owner.token, dataset.id, [
      { name: 'a.txt', content: 'first file' },
      { name: 'b.txt', content: 'second file' },
    ]);
    expect(ingested.body.errors).toBeUndefined();
    expect(ingested.body.data.ingestDocuments.progress.documentsTotal).toBe(2);
  });
});
