/**
 * Drive-by pages and DNS rebinding (attacker review): development reflected any Origin and no
 * Host was checked anywhere, so a page the developer visited could sign up on their local
 * Sluice and aim models at their network, and a page whose name was rebound to 127.0.0.1 was
 * answered (HTTP and the WebSocket upgrade) in every mode. Now the Host header must name an IP
 * address, localhost or a host in SLUICE_ALLOWED_HOSTS (403 HOST_NOT_ALLOWED otherwise, the
 * probes excepted), and development's default CORS allow-list is loopback origins only.
 * Real servers over HTTP and WebSocket, with Host headers a rebound browser would send.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../support/server.js';

const VIEWER = JSON.stringify({ query: '{ viewer { kind } }' });
const REBOUND = 'attacker-rebind.example';

let dev: TestServer;
let listed: TestServer;
let production: TestServer;

beforeAll(async () => {
  dev = await startTestServer({ env: { NODE_ENV: 'development' } });
  [listed, production] = await Promise.all([
    startTestServer({ database: dev.database, env: { NODE_ENV: 'development', SLUICE_ALLOWED_HOSTS: 'sluice.internal, .dev.example, *.preview.example' } }),
    startTestServer({ database: dev.database, env: { NODE_ENV: 'production', SLUICE_DATABASE_SSL: 'disable' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([listed?.close(), production?.close()]);
  await dev?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with the Host header `host` (fetch would send the URL's), and the port after a name unless told otherwise. */
function send(server: TestServer, path: string, { host, method = 'POST', headers = {} }: { host: string; method?: string; headers?: Record<string, string> }): Promise<Answer> {
  const { hostname, port } = new URL(server.baseUrl);
  return new Promise((resolve, reject) => {
    const body = method === 'POST' ? VIEWER : undefined;
    const sent = request({ host: hostname, port, path, method, headers: { host, 'content-type': 'application/json', ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

const portOf = (server: TestServer) => new URL(server.baseUrl).port;

/** The upgrade's status: 101, or what refused it. */
function upgrade(server: TestServer, { host, origin }: { host?: string; origin?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { ...(origin ? { origin } : {}), ...(host ? { headers: { host } } : {}) });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', (error) => (error.message.includes('Unexpected server response') ? undefined : reject(error)));
  });
}

describe('the Host allow-list', () => {
  it('refuses a rebound name in development with 403 HOST_NOT_ALLOWED naming the setting, in the door’s shape, and no CORS header', async () => {
    const host = `${REBOUND}:${portOf(dev)}`;
    const graphql = await send(dev, '/graphql', { host, headers: { origin: `http://${host}` } });
    expect(graphql.status).toBe(403);
    expect(graphql.headers['access-control-allow-origin']).toBeUndefined();
    const { errors } = JSON.parse(graphql.body) as { errors: { message: string; extensions: { code: string } }[] };
    expect(errors.map(({ extensions }) => extensions.code)).toEqual(['HOST_NOT_ALLOWED']);
    expect(errors[0]!.message).toContain('SLUICE_ALLOWED_HOSTS');
    // The OpenAI-compatible door's clients read OpenAI's error object.
    const openai = await send(dev, '/v1/models', { host, method: 'GET' });
    expect([openai.status, (JSON.parse(openai.body) as { error: { code: string; type: string } }).error]).toMatchObject([403, { code: 'HOST_NOT_ALLOWED', type: 'permission_error' }]);
    // No sign-up, no console page, no scrape.
    for (const path of ['/console/', '/metrics', '/graphql?query=%7B__typename%7D']) expect({ path, status: (await send(dev, path, { host, method: 'GET' })).status }).toEqual({ path, status: 403 });
  });

  it('answers IP addresses and localhost, with any port, and nothing that only looks like them', async () => {
    const port = portOf(dev);
    for (const host of [`127.0.0.1:${port}`, `[::1]:${port}`, `10.1.2.3`, `localhost:${port}`, 'LOCALHOST.', `app.localhost:${port}`]) {
      const answer = await send(dev, '/graphql', { host });
      expect({ host, status: answer.status, body: JSON.parse(answer.body) }).toEqual({ host, status: 200, body: { data: { viewer: { kind: 'ANONYMOUS' } } } });
    }
    for (const host of ['localhost.attacker.example', '127.0.0.1.attacker.example', 'evil@localhost', '[::1']) {
      expect({ host, status: (await send(dev, '/graphql', { host })).status }).toEqual({ host, status: 403 });
    }
  });

  it('answers the probes whatever the Host: load balancers ask by IP or an internal name', async () => {
    for (const path of ['/healthz', '/readyz']) {
      expect({ path, status: (await send(dev, path, { host: 'lb-internal-name', method: 'GET' })).status }).toEqual({ path, status: 200 });
    }
  });

  it('answers the probes only for a Host that is a host name: one holding a path would move the request elsewhere', async () => {
    // The router builds the URL from the Host and the path, so this one reached /graphql while the check saw /healthz.
    for (const server of [dev, production]) {
      const answer = await send(server, '/healthz', { host: `${REBOUND}/graphql?query=%7B__typename%7D&x=`, method: 'GET', headers: { 'x-sluice-csrf': '1' } });
      expect({ status: answer.status, code: JSON.parse(answer.body).errors?.[0]?.extensions?.code }).toEqual({ status: 403, code: 'HOST_NOT_ALLOWED' });
    }
  });

  it('answers the hosts SLUICE_ALLOWED_HOSTS lists, a leading dot or *. for the names under one', async () => {
    for (const host of ['sluice.internal', `Sluice.Internal:${portOf(listed)}`, 'dev.example', 'api.dev.example', 'pr-7.preview.example', '127.0.0.1']) {
      expect({ host, status: (await send(listed, '/graphql', { host })).status }).toEqual({ host, status: 200 });
    }
    for (const host of ['preview.example', 'sluice.internal.attacker.example', 'evil-dev.example', REBOUND]) {
      expect({ host, status: (await send(listed, '/graphql', { host })).status }).toEqual({ host, status: 403 });
    }
  });

  it('answers any host in production without SLUICE_ALLOWED_HOSTS, and warns at start-up naming the setting', async () => {
    expect((await send(production, '/graphql', { host: 'api.customer.example' })).status).toBe(200);
    const warnings = (server: TestServer) => server.logs.filter((line) => line.setting === 'SLUICE_ALLOWED_HOSTS').map((line) => line.msg);
    expect(warnings(production)).toEqual([expect.stringMatching(/^SLUICE_ALLOWED_HOSTS is not set: requests for any host name are answered/)]);
    expect(warnings(dev)).toEqual([]);
  });

  it('refuses the WebSocket upgrade of a rebound name, whose Origin names the same host', async () => {
    const port = portOf(dev);
    expect(await upgrade(dev, { host: `${REBOUND}:${port}`, origin: `http://${REBOUND}:${port}` })).toBe(403);
    expect(await upgrade(dev, { host: `${REBOUND}:${port}` })).toBe(403);
    expect(await upgrade(dev, { host: `localhost:${port}`, origin: `http://localhost:${port}` })).toBe(101);
    expect(await upgrade(dev, {})).toBe(101);
    expect(await upgrade(listed, { host: 'sluice.internal', origin: 'https://sluice.internal' })).toBe(101);
  });
});

describe("development's default CORS allow-list", () => {
  const preflight = (origin: string) =>
    fetch(dev.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  const post = (origin: string) => fetch(dev.url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: VIEWER });

  it('gives a page of another site no CORS header, a page served from this machine its own', async () => {
    for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'http://127.0.0.1.evil.example:5173', 'null', 'http://10.0.0.5:5173']) {
      const [before, actual] = [await preflight(origin), await post(origin)];
      expect({ origin, preflight: before.headers.get('access-control-allow-origin'), post: actual.headers.get('access-control-allow-origin') }).toEqual({ origin, preflight: null, post: null });
    }
    for (const origin of ['http://localhost:5173', 'https://app.localhost:8443', 'http://127.0.0.1:3000', 'http://[::1]:8080']) {
      const [before, actual] = [await preflight(origin), await post(origin)];
      expect({ origin, preflight: before.headers.get('access-control-allow-origin'), post: actual.headers.get('access-control-allow-origin') }).toEqual({ origin, preflight: origin, post: origin });
    }
  });

  it('refuses the WebSocket of a page of another site, not of one served from this machine', async () => {
    expect(await upgrade(dev, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgrade(dev, { origin: 'http://localhost:5173' })).toBe(101);
  });
});
