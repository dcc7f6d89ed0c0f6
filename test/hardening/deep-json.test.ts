/**
 * Deeply nested JSON is refused at once on every door, and no door walks it in more than
 * linear time. 400 000 levels of `[[[…]]]` (800 KB, under every body limit) used to hold the
 * event loop for minutes (the NUL check copied each value's whole path at every level, so its
 * cost grew with the square of the depth), so one anonymous request stopped every tenant.
 * Now a JSON body nested deeper than 128 levels is 400 BAD_REQUEST before it is parsed
 * (platform/input/json-depth.ts), and what is walked after parsing (a WebSocket's
 * connectionParams, which no body reader sees) is walked in linear time. A WebSocket message
 * nested too deeply closes its socket with 4400 before graphql-ws parses it
 * (server/websocket-messages.ts). Through the real server over HTTP and WebSocket.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createModel, gql } from '../support/endpoints.js';
import { serverWithOwner } from '../support/ingestion.js';

const DEPTH = 400_000;
const deep = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
const TOO_DEEP = "The request body's JSON nests deeper than 128 levels.";
const nested = (levels: number, inner: unknown): unknown => (levels === 0 ? inner : { a: nested(levels - 1, inner) });

const context = serverWithOwner();

async function post(path: string, body: string | FormData, headers: Record<string, string> = {}) {
  const response = await fetch(`${context.server.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'x-sluice-csrf': '1', accept: 'application/json', authorization: `Bearer ${context.owner.token}`, ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
    body,
  });
  return { status: response.status, text: await response.text() };
}

describe('JSON nested 400 000 levels deep', () => {
  it('is 400 BAD_REQUEST on GraphQL, as a variable and in a multipart upload’s operations', async () => {
    const asVariable = await post('/graphql', `{"query":"mutation($i: CreateModelInput!) { createModel(input: $i) { id } }","variables":{"i":{"name":"x","type":"extractive","config":{"a":${deep}}}}}`);
    expect(asVariable.status).toBe(400);
    expect(JSON.parse(asVariable.text).errors).toEqual([expect.objectContaining({ message: TOO_DEEP, extensions: expect.objectContaining({ code: 'BAD_REQUEST' }) })]);

    const form = new FormData();
    form.set('operations', `{"query":"mutation($d: ID!, $files: [File!]) { ingestDocuments(datasetId: $d, files: $files) { id } }","variables":{"d":"x","files":[null],"n":${deep}}}`);
    form.set('map', JSON.stringify({ 0: ['variables.files.0'] }));
    form.set('0', new Blob(['plain text'], { type: 'text/plain' }), 'a.txt');
    const upload = await post('/graphql', form);
    expect(upload.status).toBe(400);
    expect(JSON.parse(upload.text).errors[0]).toMatchObject({ message: TOO_DEEP, extensions: { code: 'BAD_REQUEST' } });
  });

  it('is 400 BAD_REQUEST on the REST login and query, the OpenAI-compatible door and MCP', async () => {
    const login = await post('/api/v1/auth/login', `{"email":${deep},"password":"x"}`);
    expect({ status: login.status, body: JSON.parse(login.text) }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: TOO_DEEP, code: 'BAD_REQUEST' } });

    const openai = await post('/v1/chat/completions', `{"model":"a/b","messages":${deep}}`);
    expect(openai.status).toBe(400);
    expect(JSON.parse(openai.text).error.message).toBe(TOO_DEEP);

    const mcp = await post('/mcp', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":${deep}}`, { accept: 'application/json, text/event-stream' });
    expect(mcp.status).toBe(400);
    expect(JSON.parse(mcp.text).error.message).toContain(TOO_DEEP);

    // The REST query's body bound (128 KiB) is smaller than 400 000 levels: 300 levels fit in it.
    const query = await post('/api/v1/endpoints/a/b/query', `{"query":${'['.repeat(300)}${']'.repeat(300)}}`);
    expect(query.status).toBe(400);
    expect(JSON.parse(query.text)).toMatchObject({ code: 'BAD_REQUEST', detail: TOO_DEEP });
  });

  it('in a WebSocket message (connectionParams here) closes the socket with 4400 before graphql-ws parses it', async () => {
    // Written by hand: JSON.stringify itself recurses, and would overflow on 400 000 levels.
    // Every message type, and the size per type: websocket-messages.test.ts.
    const socket = new WebSocket(context.server.wsUrl, 'graphql-transport-ws');
    const answers: string[] = [];
    socket.on('message', (data) => answers.push(String(data)));
    const closed = new Promise<[number, string]>((resolve) => socket.once('close', (code, reason) => resolve([code, String(reason)])));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(`{"type":"connection_init","payload":{"authorization":"Bearer ${context.owner.token}","extra":${deep}}}`);
    expect(await closed).toEqual([4400, "The message's JSON nests deeper than 128 levels"]);
    expect(answers).toEqual([]);
  });
});

describe('JSON within 128 levels', () => {
  it('is read as before: a config nested 120 levels deep reaches validation, a NUL 120 levels deep is found with its path', async () => {
    const body = await gql(context.server, context.owner.token, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
      i: { name: 'deep', type: 'extractive', config: nested(120, 1) },
    });
    expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config' });
    expect(body.errors[0].message).toMatch(/Unrecognized key/);

    const withNul = await gql(context.server, context.owner.token, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
      i: { name: 'deep', type: 'extractive', config: nested(120, 'a\u0000b') },
    });
    expect(withNul.errors[0].extensions.issues[0].path).toEqual(['$i', 'config', ...Array.from({ length: 120 }, () => 'a')]);

    // connectionParams within the bound reach the operation, walked in linear time by the NUL check.
    const socket = new WebSocket(context.server.wsUrl, 'graphql-transport-ws');
    const messages: any[] = [];
    const arrived = (count: number) => new Promise<void>((resolve) => socket.on('message', () => messages.length >= count && resolve()));
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once('open', resolve));
    const acknowledged = arrived(1);
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${context.owner.token}`, extra: nested(120, 1) } }));
    await acknowledged;
    const answered = arrived(2);
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ viewer { kind } }' } }));
    await answered;
    expect(messages.slice(0, 2)).toEqual([{ type: 'connection_ack' }, { id: '1', type: 'next', payload: { data: { viewer: { kind: 'USER' } } } }]);
    socket.close();

    // And the model the first refusal did not create is not there.
    const model = await createModel(context.server, context.owner.token, { name: 'after-deep', type: 'extractive' });
    expect(model.id).toBeTruthy();
  });
});
