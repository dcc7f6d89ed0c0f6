/**
 * Slow clients are cut: a connection that trickles its headers (slowloris), or its body, or
 * says nothing at all, is closed by the server once the configured deadline passes, while
 * ordinary requests go on. Deadlines here are small so the test is short; the defaults are in
 * the README.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false, env: { SLUICE_HEADERS_TIMEOUT_MS: '500', SLUICE_REQUEST_TIMEOUT_MS: '1500' } });
});
afterAll(() => server?.close());

/** A raw connection to the server; `closed` resolves with what the server sent before closing. */
async function rawConnection(): Promise<{ socket: Socket; closed: Promise<string> }> {
  const { port } = new URL(server.baseUrl);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  return { socket, closed };
}

/** Writes `bytes` one at a time, `everyMs` apart, until they run out or the socket closes. */
function trickle(socket: Socket, bytes: string, everyMs: number): { sent: () => number; stop: () => void } {
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || sent >= bytes.length) return clearInterval(timer);
    socket.write(bytes[sent++]!);
  }, everyMs);
  return { sent: () => sent, stop: () => clearInterval(timer) };
}

describe('slow clients', () => {
  it('are cut when their headers trickle in a byte at a time', async () => {
    const { socket, closed } = await rawConnection();
    socket.write('POST /graphql HTTP/1.1\r\nHost: localhost\r\n');
    // Far more header bytes than the deadline lets through at this pace: the headers never end.
    const headers = 'X-Slow: ' + 'a'.repeat(10_000) + '\r\n';
    const sender = trickle(socket, headers, 50);
    const answer = await closed;
    sender.stop();
    expect(sender.sent()).toBeLessThan(headers.length);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('are cut when they open a connection and send nothing', async () => {
    const { closed } = await rawConnection();
    expect(await closed).toMatch(/^$|^HTTP\/1\.1 408/);
  });

  it('are cut when their body trickles in past the request deadline', async () => {
    const { socket, closed } = await rawConnection();
    const body = JSON.stringify({ query: '{ viewer { kind } }', padding: 'x'.repeat(10_000) });
    socket.write(`POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    const sender = trickle(socket, body, 50);
    await closed;
    sender.stop();
    expect(sender.sent()).toBeLessThan(body.length);
  });

  it('leave ordinary requests, and keep-alive connections between them, alone', async () => {
    for (let i = 0; i < 3; i++) {
      const { status, body } = await server.graphql('{ viewer { kind } }');
      expect(status).toBe(200);
      expect(body.data.viewer.kind).toBe('ANONYMOUS');
    }
  });
});
