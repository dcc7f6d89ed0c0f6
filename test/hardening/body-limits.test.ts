/**
 * Request bodies at the edges of their limits, sent the way real clients send them (Node's
 * fetch, which is undici): the documented ingestion limits are the effective ones, an
 * over-limit body is answered with a readable 413 rather than a reset connection, and a JSON
 * body that is not UTF-8 is refused with 400 rather than decoded with replacement characters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../support/identity.js';
import { createDataset, ingestFiles, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const MB = 1_000_000;
const MAX_REQUEST_BYTES = 32 * MB;
const MAX_FILE_BYTES = 26_214_400; // the default, 25 MiB

let server: TestServer;
let token: string;
let datasetId: string;

beforeAll(async () => {
  // No worker: these tests are about what the server accepts, not about parsing 30 MB.
  server = await startTestServer({ env: { SLUICE_INGEST_MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES) }, worker: false });
  ({ token } = await tenantWithOwner(server));
  datasetId = (await createDataset(server, token)).id;
}, 120_000);
// Closing waits for the database that just took 80 MB; on a loaded machine that is slow.
afterAll(() => server?.close(), 300_000);

const text = (bytes: number, letter = 'a') => ({ name: `${letter}.txt`, type: 'text/plain', content: `${letter} `.repeat(bytes / 2) });
const codeOf = (body: any) => body.errors?.[0]?.extensions?.code;
// Tens of megabytes through one loaded machine: generous, never a timing assertion.
const BIG = { timeout: 300_000 };

describe('the documented ingestion limits are the effective ones', () => {
  it('accepts two 15 MB files that SLUICE_INGEST_MAX_* allow', BIG, async () => {
    const two = await ingestFiles(server, token, datasetId, [text(15 * MB, 'a'), text(15 * MB, 'b')]);
    expect(two.body.errors).toBeUndefined();
    expect([two.status, two.body.data.ingestDocuments.progress.documentsTotal]).toEqual([200, 2]);
  });

  it('accepts one 26 000 000-byte file (under the 25 MiB file limit)', BIG, async () => {
    const one = await ingestFiles(server, token, datasetId, [text(26_000_000, 'c')]);
    expect(one.body.errors).toBeUndefined();
    expect([one.status, one.body.data.ingestDocuments.progress.bytesTotal]).toEqual([200, 26_000_000]);
  });

  it('refuses just over each limit with its documented code', BIG, async () => {
    const file = await ingestFiles(server, token, datasetId, [text(MAX_FILE_BYTES + 2, 'd')]);
    expect(file.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'FILE_TOO_LARGE' });
    expect(file.body.errors[0].extensions.problems).toEqual([{ index: 0, name: 'd.txt', reason: 'FILE_TOO_LARGE', message: `"d.txt" is ${MAX_FILE_BYTES + 2} bytes; at most ${MAX_FILE_BYTES} per file` }]);
    const total = await ingestFiles(server, token, datasetId, [text(16 * MB, 'e'), text(16 * MB + 2, 'f')]);
    expect(total.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'REQUEST_TOO_LARGE', max: MAX_REQUEST_BYTES });
    // The body may carry the request limit plus 1 MiB of form; past that, 413 before it is read.
    const body = await ingestFiles(server, token, datasetId, [text(MAX_REQUEST_BYTES + 1_100_000, 'g')]);
    expect([body.status, codeOf(body.body)]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });
});

describe('an over-limit body gets a readable answer (Node fetch)', () => {
  it('answers a 10 MB query with 413 and the coded error, not a reset connection', BIG, async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename } #${'x'.repeat(10 * MB)}` }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
    expect(codeOf(await response.json())).toBe('PAYLOAD_TOO_LARGE');
    // The server is still there for the next request.
    expect((await server.graphql('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('holds a form field of an upload to the plain body limit: 413 for a 20 MB operations field, anonymous or not', BIG, async () => {
    // The upload allowance is for files. A 98 MB `operations` once went through: parsed on the
    // event loop for 11 s, into 1.4 GB.
    const boundary = 'sluice-fields';
    const form = (name: string, content: string) =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${content}\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--${boundary}--\r\n`);
    const huge = JSON.stringify({ query: 'query($x: [Int]) { viewer { kind } }', variables: { x: Array(10 * MB).fill(1) } });
    const sent: { name: string; credential: Record<string, string> }[] = [
      { name: 'operations', credential: {} },
      { name: 'operations', credential: { authorization: `Bearer ${token}` } },
      { name: 'note', credential: {} },
    ];
    for (const { name, credential } of sent) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-sluice-csrf': '1', ...credential },
        body: form(name, huge),
      });
      const answer = await response.json();
      expect([response.status, codeOf(answer)]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
      expect(answer.errors[0].message).toBe(`The form field "${name}" exceeds the limit of 1048576 bytes (files are limited apart).`);
    }
    // Under the limit, the same form is read and run.
    const small = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-sluice-csrf': '1' },
      body: form('operations', JSON.stringify({ query: '{ viewer { kind } }' })),
    });
    expect(await small.json()).toEqual({ data: { viewer: { kind: 'ANONYMOUS' } } });
  });

  it('answers a chunked 10 MB body (no Content-Length) with 411 and the coded error', BIG, async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 10 * MB) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(411);
    expect(codeOf(await response.json())).toBe('LENGTH_REQUIRED');
  });
});

describe("a refusal before any route reads as its door's other errors", () => {
  // OpenAI, MCP and REST clients parse their door's own error object: GraphQL's { errors } left
  // an OpenAI client with "413 status code (no body)" and an MCP client with no JSON-RPC error.
  const tooLarge = JSON.stringify({ query: 'x'.repeat(2 * MB) });
  const doors: { path: string; read: (body: any) => unknown; contentType: string }[] = [
    { path: '/v1/chat/completions', read: (body) => [body.error?.code, body.error?.type], contentType: 'application/json; charset=utf-8' },
    { path: '/mcp', read: (body) => [body.jsonrpc, body.id, body.error?.data?.code], contentType: 'application/json; charset=utf-8' },
    { path: '/mcp/acme/handbook', read: (body) => [body.jsonrpc, body.id, body.error?.data?.code], contentType: 'application/json; charset=utf-8' },
    { path: '/api/v1/endpoints/acme/handbook/query', read: (body) => [body.type, body.code], contentType: 'application/problem+json; charset=utf-8' },
    { path: '/api/v1/auth/login', read: (body) => [body.error, body.code], contentType: 'application/json; charset=utf-8' },
    { path: '/graphql', read: (body) => [codeOf(body)], contentType: 'application/json; charset=utf-8' },
  ];
  const expected = (path: string, code: string) =>
    ({
      '/v1/chat/completions': [code, 'invalid_request_error'],
      '/mcp': ['2.0', null, code],
      '/mcp/acme/handbook': ['2.0', null, code],
      '/api/v1/endpoints/acme/handbook/query': [`urn:sluice:error:${code}`, code],
      '/api/v1/auth/login': ['invalid_request', code],
      '/graphql': [code],
    })[path];

  it('413 over the body limit, in each door\'s shape, with the request id', async () => {
    for (const { path, read, contentType } of doors) {
      const response = await fetch(`${server.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'edge-413' }, body: tooLarge });
      const body = await response.json();
      expect([path, response.status, read(body)]).toEqual([path, 413, expected(path, 'PAYLOAD_TOO_LARGE')]);
      expect([path, response.headers.get('content-type'), response.headers.get('x-request-id')]).toEqual([path, contentType, 'edge-413']);
    }
  });

  it('411 for a chunked body, in each door\'s shape', async () => {
    for (const { path, read } of doors) {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"query": "water"}'));
          controller.close();
        },
      });
      const response = await fetch(`${server.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
      expect([path, response.status, read(await response.json())]).toEqual([path, 411, expected(path, 'LENGTH_REQUIRED')]);
    }
  });
});

describe('a JSON body that is not UTF-8', () => {
  /** `{"query": …, "variables": {"name": "<bytes>"}}` with 0xff 0xfe inside the string. */
  const withBadBytes = (json: string, marker = '@@') => {
    const [before, after] = json.split(marker);
    return Buffer.concat([Buffer.from(before!), Buffer.from([0xff, 0xfe]), Buffer.from(after!)]);
  };
  const post = (url: string, body: Buffer, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'x-sluice-csrf': '1', ...headers }, body: body as BodyInit });

  it('is refused with 400 BAD_REQUEST on GraphQL POST, before it runs', async () => {
    const body = withBadBytes(JSON.stringify({ query: 'mutation($name: String!) { createDataset(input: { name: $name, slug: "bytes" }) { id } }', variables: { name: 'x@@y' } }));
    const response = await post(server.url, body, { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(response.status).toBe(400);
    const answer = await response.json();
    expect(codeOf(answer)).toBe('BAD_REQUEST');
    expect(answer.errors[0].message).toBe('The request body is not valid UTF-8.');
    // Nothing was created.
    const datasets = await server.graphql('{ datasets { edges { node { slug } } } }', { token });
    expect(datasets.body.data.datasets.edges.map((edge: any) => edge.node.slug)).not.toContain('bytes');
    // The same text, valid, is accepted.
    const valid = await post(server.url, Buffer.from(JSON.stringify({ query: '{ __typename }', variables: { name: 'xÿþy' } })), { 'content-type': 'application/json' });
    expect(valid.status).toBe(200);
  });

  it("is refused in a multipart upload's operations field", async () => {
    const operations = withBadBytes(JSON.stringify({ query: 'mutation($d: ID!, $files: [File!]) { ingestDocuments(datasetId: $d, files: $files) { id } }', variables: { d: datasetId, files: [null], note: '@@' } }));
    // FormData would encode a string field as UTF-8: the bytes are written by hand.
    const boundary = 'sluice-boundary';
    const part = (headers: string, content: Buffer | string) => [Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`), Buffer.from(content), Buffer.from('\r\n')];
    const body = Buffer.concat([
      ...part('Content-Disposition: form-data; name="operations"', operations),
      ...part('Content-Disposition: form-data; name="map"', JSON.stringify({ 0: ['variables.files.0'] })),
      ...part('Content-Disposition: form-data; name="0"; filename="a.txt"\r\nContent-Type: text/plain', 'plain text'),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
    const response = await post(server.url, body, { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: `Bearer ${token}` });
    expect(response.status).toBe(400);
    expect(codeOf(await response.json())).toBe('BAD_REQUEST');
  });

  it("a multipart operations field that is not JSON is the client's mistake: refused, and no error in the log", async () => {
    const boundary = 'sluice-json';
    const body = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{not json\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--${boundary}--\r\n`,
    );
    const before = server.logs.length;
    const response = await post(server.url, body, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    // Yoga's answer to a request it cannot read (200 under `application/json`, as GraphQL over HTTP has it for legacy clients).
    expect([response.status, (await response.json()).errors[0].message]).toEqual([200, 'Multipart form field "operations" must be a valid JSON string']);
    // Yoga logged it twice at error level: an operator's error log is for the server's failures.
    expect(server.logs.slice(before).filter((line) => line.level >= 50)).toEqual([]);
  });

  it('is refused by the REST login with 400 and the code', async () => {
    const { email } = await signUp(server);
    const response = await post(`${server.baseUrl}/api/v1/auth/login`, withBadBytes(JSON.stringify({ email, password: 'pass@@word' })), { 'content-type': 'application/json' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', code: 'BAD_REQUEST' });
  });
});
