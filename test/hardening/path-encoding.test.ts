/**
 * A path part that is not valid percent-encoding is the caller's mistake on every route that
 * decodes one (src/platform/http/path-segments.ts): 400 BAD_USER_INPUT in the route's own error
 * shape, naming the part, with no stack trace. `GET /v1/models/%zz` used to answer 500
 * `text/plain` with the URIError's stack (install paths, library versions), without credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(() => server?.close());

/** The answer's status, media type and body, and that nothing in it reads like a stack trace. */
async function answerOf(response: Response) {
  const text = await response.text();
  expect(text).not.toMatch(/URIError|\n\s+at |node_modules|file:\/\//);
  return { status: response.status, type: response.headers.get('content-type')?.split(';')[0], body: JSON.parse(text) };
}

describe('malformed percent-encoding in a path', () => {
  for (const path of ['%zz', 'acme/%zz', 'acme%2F%ff%fe', '%']) {
    it(`GET /v1/models/${path} is 400 BAD_USER_INPUT in OpenAI's error shape, anonymous`, async () => {
      const { status, type, body } = await answerOf(await fetch(`${server.baseUrl}/v1/models/${path}`));
      expect({ status, type, code: body.error?.code, param: body.error?.param, type_: body.error?.type }).toEqual({
        status: 400,
        type: 'application/json',
        code: 'BAD_USER_INPUT',
        param: 'model',
        type_: 'invalid_request_error',
      });
      expect(body.error.message).toBe("The path's {model} is not valid percent-encoding.");
      expect(body.error.sluice.requestId).toEqual(expect.any(String));
    });
  }

  it('a NUL encoded in the model id is refused the same way', async () => {
    const { status, body } = await answerOf(await fetch(`${server.baseUrl}/v1/models/acme%2F%00`));
    expect({ status, code: body.error.code, param: body.error.param }).toEqual({ status: 400, code: 'BAD_USER_INPUT', param: 'model' });
  });

  it('the REST query names the segment, in problem details', async () => {
    for (const [path, name] of [
      ['%zz/docs', 'tenant'],
      ['acme/%ff%fe', 'endpoint'],
    ]) {
      const response = await fetch(`${server.baseUrl}/api/v1/endpoints/${path}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'q' }) });
      const { status, type, body } = await answerOf(response);
      expect({ status, type, code: body.code, field: body.field, detail: body.detail }).toEqual({
        status: 400,
        type: 'application/problem+json',
        code: 'BAD_USER_INPUT',
        field: name,
        detail: `The path's {${name}} is not valid percent-encoding.`,
      });
    }
  });

  it('a well-formed path still answers as before', async () => {
    const { status, body } = await answerOf(await fetch(`${server.baseUrl}/v1/models/acme%2Fnone`));
    expect({ status, code: body.error.code }).toEqual({ status: 404, code: 'NOT_FOUND' });
  });
});
