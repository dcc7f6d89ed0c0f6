/**
 * Graceful shutdown of the server in-process: open subscriptions end properly (WebSockets with
 * close code 1001 "going away", SSE streams complete), an in-flight request still gets its
 * answer, and nothing new is accepted. (test/boot.test.ts covers SIGTERM on the real process.)
 */
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { seedTenant } from './support/seed.js';
import { startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  const tenant = await seedTenant(server.database.ownerUrl);
  token = await server.tokenFor(tenant, tenant.users[0]!);
});
afterAll(() => server?.close());

/** A graphql-ws socket with one endless heartbeat subscription, resolved once it ticked. */
async function openSubscribedSocket() {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const firstTick = new Promise<void>((resolve, reject) => {
    socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString());
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { heartbeat(intervalSeconds: 60) { sequence } }' } }));
      } else if (message.type === 'next') resolve();
      else if (message.type === 'error') reject(new Error(JSON.stringify(message.payload)));
    });
  });
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
  await firstTick;
  return { socket, closed };
}

/** An SSE heartbeat stream, resolved once the first event arrived; `ended` resolves at its end. */
async function openSseStream() {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'subscription { heartbeat(intervalSeconds: 60) { sequence } }' }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('"sequence":1')) text += decoder.decode((await reader.read()).value);
  const ended = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += decoder.decode(value);
    }
  })();
  return { ended };
}

it('ends subscriptions cleanly, finishes an in-flight request, then stops accepting', async () => {
  const ws = await openSubscribedSocket();
  const sse = await openSseStream();

  // An in-flight request: headers and half the body are sent before the shutdown starts.
  const body = JSON.stringify({ query: '{ viewer { kind } }' });
  const half = Math.floor(body.length / 2);
  let sendRest!: () => void;
  // Node emits `request` once it has parsed the headers: from then on the request is in flight.
  const seen = once(server.server.httpServer, 'request');
  const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.write(body.slice(0, half));
    sendRest = () => req.end(body.slice(half));
  });
  // Wait until the server has seen the request, so the shutdown finds a request in flight.
  await seen;

  const closing = server.server.close();
  expect(await ws.closed).toEqual({ code: 1001, reason: 'Going away' });
  await expect(sse.ended).resolves.toContain('event: complete');

  sendRest();
  const answered = await inFlight;
  expect(answered.status).toBe(200);
  expect(JSON.parse(answered.text)).toEqual({ data: { viewer: { kind: 'ANONYMOUS' } } });

  await closing;
  await expect(fetch(`${server.baseUrl}/healthz`)).rejects.toThrow();
});
