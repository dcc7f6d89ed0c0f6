/**
 * A server that answers every request with a redirect to another one, the sink, which keeps
 * whatever reaches it: what a client sees when the URL it was given redirects (a
 * misconfigured proxy, a hijacked host) and what it would hand to the address redirected to.
 * Both are real HTTP servers on ports of their own (two origins); the redirector answers
 * WebSocket upgrades with the same redirect.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** A request that reached the sink. */
export interface SinkRequest {
  method: string;
  url: string;
  /** Set for an upgrade (WebSocket) request. */
  upgrade?: string;
  body: string;
}

export interface Redirector {
  /** The redirector's GraphQL URL, as a client would be configured with it. */
  url: string;
  /** The sink's GraphQL URL, where every answer points (`Location`). */
  sinkUrl: string;
  /** Everything the sink received, in order. */
  received: SinkRequest[];
  close(): Promise<void>;
}

/** A redirector answering `status` (307 keeps the method and body, as does 308) towards a fresh sink. */
export async function startRedirector(status = 307): Promise<Redirector> {
  const received: SinkRequest[] = [];
  const sink = createServer(async (request, response) => {
    received.push({ method: request.method!, url: request.url!, body: await bodyOf(request) });
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"data":null}');
  });
  sink.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    received.push({ method: request.method!, url: request.url!, upgrade: request.headers.upgrade, body: '' });
    socket.destroy();
  });
  const sinkUrl = `${await listen(sink)}/graphql`;

  const redirector = createServer((request, response) => {
    request.resume();
    response.writeHead(status, { location: sinkUrl }).end();
  });
  redirector.on('upgrade', (_request: IncomingMessage, socket: Duplex) => {
    socket.end(`HTTP/1.1 ${status} Redirect\r\nLocation: ${sinkUrl}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  const url = `${await listen(redirector)}/graphql`;

  return {
    url,
    sinkUrl,
    received,
    async close() {
      await Promise.all([stop(redirector), stop(sink)]);
    },
  };
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
