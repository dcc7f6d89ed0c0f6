/**
 * A worker's own metrics listener (`sluice worker --metrics-port`): a process with no API has
 * no HTTP server, so the series it counts (ingestion volume, embedding calls, health checks)
 * would be lost. Two routes only: `GET /metrics` (the registry, under the same access rule as
 * the API's: scrape-access.ts) and `GET /healthz`; anything else is 404, another method 405.
 * Bound to 127.0.0.1 unless told otherwise: the numbers are for a local or sidecar scraper.
 * Loopback is no wall against a DNS-rebinding page in the operator's browser, so `/metrics`
 * without a token answers only the hosts the API does (SLUICE_ALLOWED_HOSTS, allowed-hosts.ts);
 * with a token, which no page knows, and for `/healthz`, any Host.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { HOST_REFUSAL_MESSAGE, hostAllowed } from '../http/allowed-hosts.js';
import { scrapeRefusal, type ScrapeAccess } from './scrape-access.js';

export interface MetricsListenerOptions extends ScrapeAccess {
  registry: Registry;
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** SLUICE_ALLOWED_HOSTS, for a scrape without a token. @default [] (IP addresses and localhost only) */
  allowedHosts?: readonly string[];
}

export interface MetricsListener {
  /** Where it listens, e.g. http://127.0.0.1:9464. */
  url: string;
  close(): Promise<void>;
}

export async function startMetricsListener({ registry, port, host = '127.0.0.1', allowedHosts = [], ...access }: MetricsListenerOptions): Promise<MetricsListener> {
  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(body);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://worker').pathname;
    if (path !== '/metrics' && path !== '/healthz') return send(res, 404, 'Not found: this listener serves /metrics and /healthz only\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed\n', { allow: 'GET, HEAD' });
    if (path === '/healthz') return send(res, 200, '{"status":"ok"}', { 'content-type': 'application/json' });
    if (!access.token && !hostAllowed(allowedHosts, req.headers.host)) return send(res, 403, `${HOST_REFUSAL_MESSAGE}\n`);
    const refused = scrapeRefusal(access, req.headers.authorization);
    if (refused) return send(res, refused.status, refused.body, refused.headers);
    registry.metrics().then(
      (text) => send(res, 200, text, { 'content-type': registry.contentType }),
      () => send(res, 500, 'The metrics could not be collected\n'),
    );
  });
  // A scraper keeps its connection open between scrapes; shutdown must not wait for it.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
