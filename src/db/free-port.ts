import { createServer } from 'node:net';

/** Asks the OS for a port nobody is listening on (there is a small race; callers retry). */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return listenOnce(0, host).then((port) => port ?? Promise.reject(new Error('no port')));
}

/** True when nothing listens on `port` at `host` now (the same race as `findFreePort`). */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return (await listenOnce(port, host).catch(() => undefined)) !== undefined;
}

function listenOnce(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}
