/**
 * A GraphQL server gone wrong, for the clients' bounds (the SDK, the CLI): a real HTTP server
 * (node:http, port 0) whose every answer `answer` writes, such as a body or an event that never
 * ends, pages that never end, or no answer at all. Not Sluice: the point is a server
 * misbehaving, which the real one does not.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface HostileServer {
  /** Its GraphQL URL, as a client would be configured with it. */
  url: string;
  /** The requests it received, each with its parsed JSON body, in order. */
  received: { headers: IncomingMessage['headers']; body: any }[];
  /** Resolves once the client has closed the connection of every request received so far. */
  hungUp(): Promise<void>;
  close(): Promise<void>;
}

export async function startHostileServer(answer: (response: ServerResponse, body: any, index: number) => void): Promise<HostileServer> {
  const received: HostileServer['received'] = [];
  const closed: Promise<void>[] = [];
  const server = createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    received.push({ headers: request.headers, body: JSON.parse(text || 'null') });
    closed.push(new Promise((resolve) => response.on('close', resolve)));
    answer(response, received.at(-1)!.body, received.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`,
    received,
    hungUp: async () => void (await Promise.all(closed)),
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `start`, then 'A's without end, as fast as the client reads them, until it hangs up. */
export function endless(response: ServerResponse, start: string): void {
  const chunk = 'A'.repeat(64 * 1024);
  let open = true;
  response.on('close', () => (open = false));
  response.write(start);
  const more = () => {
    while (open && response.write(chunk));
    if (open) response.once('drain', more);
  };
  more();
}

/** A JSON answer whose string value never ends. */
export function endlessJson(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  endless(response, '{"data":{"viewer":{"kind":"');
}

/** An event stream whose first event's data line never ends. */
export function endlessEvent(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  endless(response, 'event: next\ndata: ');
}

/** Nothing at all: the request is left waiting (until the client or close() ends it). */
export function silence(): void {}
