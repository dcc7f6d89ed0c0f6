/**
 * Open WebSocket connections are capped per client address (IPv6: per /64) and per process
 * (src/server/websocket-caps.ts). 20 000 idle anonymous sockets once used up the server's file
 * descriptors, and every new connection, HTTP too, was reset until they left. Real `ws`
 * sockets against a real server; the places a server holds are read from its gauge, since
 * the client's 'close' can come before the server's.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { scrape, value } from '../support/metrics.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp } from './support.js';

const PER_ADDRESS = 3;
const TOTAL = 5;

let server: TestServer;
const opened: WebSocket[] = [];

beforeAll(async () => {
  server = await startTestServer({
    worker: false,
    env: { SLUICE_TRUST_PROXY: '1', SLUICE_WS_MAX_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS), SLUICE_WS_MAX_CONNECTIONS: String(TOTAL) },
  });
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map(close));
  await untilOpen(0);
});
afterAll(() => server?.close());

type Upgrade = { status: 101; socket: WebSocket } | { status: number; retryAfter: string | undefined; body: string };

/** A graphql-ws socket from `ip`: open (101), or the status, Retry-After and body it was refused with. */
function connect(ip: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { headers: fromIp(ip) });
    socket.once('open', () => {
      opened.push(socket);
      resolve({ status: 101, socket });
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, retryAfter: response.headers['retry-after'], body }));
    });
    socket.on('error', reject);
  });
}

/** An open socket from `ip` that graphql-ws acknowledged (connection_init sent, so the init timeout does not close it). */
async function connected(ip: string): Promise<WebSocket> {
  const upgrade = await connect(ip);
  expect(upgrade.status).toBe(101);
  const { socket } = upgrade as { socket: WebSocket };
  const acknowledged = new Promise((resolve) => socket.once('message', (data) => resolve(JSON.parse(String(data)))));
  socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  expect(await acknowledged).toEqual({ type: 'connection_ack' });
  return socket;
}

/** Closes `socket` (a close handshake) and resolves once the client has seen it closed. */
function close(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.close();
  });
}

/** Resolves once the server counts `count` open connections (sluice_websocket_connections). */
const untilOpen = (count: number) =>
  pollUntil(async () => value(await scrape(server), 'sluice_websocket_connections'), (n) => n === count, {
    failure: (n) => `${n} WebSocket connections open, not ${count}`,
  });

it('refuses one more socket from an address with 429 and Retry-After, not another address, and admits it again once one closes', async () => {
  const [first, second] = [freshIp(), freshIp()];
  const held = [await connected(first), await connected(first), await connected(first)];

  expect(await connect(first)).toEqual({ status: 429, retryAfter: '30', body: 'Too many WebSocket connections from this address' });
  await connected(second);
  await untilOpen(PER_ADDRESS + 1);

  await close(held[1]!);
  await untilOpen(PER_ADDRESS);
  await connected(first);
  expect((await connect(first)).status).toBe(429);
});

it('counts IPv6 addresses per /64', async () => {
  for (const address of ['2001:db8:7:1::1', '2001:db8:7:1::2', '2001:db8:7:1:ffff:ffff:ffff:3']) await connected(address);
  expect((await connect('2001:db8:7:1:abcd::4')).status).toBe(429);
  await connected('2001:db8:7:2::1');
});

it('refuses a socket past the process’s cap with 503, while plain HTTP is still answered', async () => {
  const addresses = [freshIp(), freshIp()];
  for (let i = 0; i < TOTAL; i++) await connected(addresses[i % 2]!);

  expect(await connect(freshIp())).toEqual({ status: 503, retryAfter: '30', body: 'Too many WebSocket connections' });

  const health = await fetch(`${server.baseUrl}/healthz`);
  expect(health.status).toBe(200);
  await health.text();
  const typename = await server.graphql('{ __typename }', { headers: fromIp(freshIp()) });
  expect([typename.status, typename.body]).toEqual([200, { data: { __typename: 'Query' } }]);

  await close(opened[0]!);
  await untilOpen(TOTAL - 1);
  await connected(freshIp());
});

it('gives a place back however the socket ends: terminated, or closed by the server for never sending connection_init', async () => {
  const ip = freshIp();
  const terminated = await connected(ip);
  const silent = ((await connect(ip)) as { socket: WebSocket }).socket;
  await untilOpen(2);

  const gone = new Promise<void>((resolve) => terminated.once('close', () => resolve()));
  terminated.terminate();
  await gone;
  await untilOpen(1);

  // graphql-ws closes a socket that has not sent connection_init within 3 s.
  const closedBy = await new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
  expect(closedBy).toBe(4408);
  await untilOpen(0);
});
