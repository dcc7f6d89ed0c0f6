/**
 * A TCP proxy for fault tests, between the server and PostgreSQL or a client and the server:
 * `outage()` severs every connection and refuses new ones, which is what clients see while a
 * database restarts;
 * `restore()` accepts again on the same port. Bytes pass through untouched, except that the
 * first `resetFirst` connections are reset as soon as they send anything (what a client sees
 * when a server closes a kept-alive connection as the client writes to it). `listenOn` puts it on
 * another of the machine's addresses than loopback: a server as a client sees one across a network.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections reset by `resetFirst`, and connections passed through. */
  counts: { reset: number; passed: number };
  /** `url` with its host and port pointed at the proxy. */
  through(url: string): string;
  outage(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, options: { resetFirst?: number; listenOn?: string } = {}): Promise<TcpProxy> {
  const host = options.listenOn ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const counts = { reset: 0, passed: 0 };
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const makeServer = () =>
    createServer((client) => {
      if (counts.reset < (options.resetFirst ?? 0)) {
        counts.reset += 1;
        track(client);
        client.once('data', () => client.resetAndDestroy());
        client.on('error', () => undefined);
        return;
      }
      counts.passed += 1;
      const upstream = connect(target.port, target.host);
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
  let server: Server = makeServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    port,
    counts,
    through(url) {
      const parsed = new URL(url);
      parsed.hostname = host.includes(':') ? `[${host}]` : host;
      parsed.port = String(port);
      return parsed.toString();
    },
    async outage() {
      const closed = stopListening();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async restore() {
      server = makeServer();
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await stopListening();
    },
  };
}
