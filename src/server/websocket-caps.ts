/**
 * A cap on open WebSocket connections, per client address (IPv6: per /64) and per process.
 * graphql-ws keeps an idle socket open as long as it answers pings, so without a cap 20 000
 * anonymous sockets used up the process's file descriptors and every new connection (HTTP
 * too: /healthz, GraphQL, REST) was reset until they left. An upgrade over a cap is refused
 * before the handshake completes, with a status the client can read: 429 past the address's
 * share, 503 past the process's. Both carry Retry-After.
 *
 * A place is taken when the upgrade is admitted and given back when its TCP socket closes:
 * that is the file descriptor being counted, and it closes on every path (client close,
 * terminate, keep-alive timeout, graphql-ws's connection-init timeout, shutdown, and a
 * handshake that fails after admission, which never becomes a WebSocket).
 */
import type { IncomingMessage } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import { clientIpOf } from '../platform/http/client-address.js';
import { ipIdentity } from '../platform/rate-limits/bucket-keys.js';

export interface WebSocketCapsOptions {
  /** Open connections from one client address (IPv6: one /64) (SLUICE_WS_MAX_CONNECTIONS_PER_ADDRESS). */
  perAddress: number;
  /** Open connections in this process, from everyone (SLUICE_WS_MAX_CONNECTIONS). */
  total: number;
  trustProxyHops: number;
  /** Where the sluice_websocket_connections gauge is served from (/metrics). */
  registry?: Registry;
}

/** What `admit` decided: an upgrade to complete, or the HTTP status and headers to refuse it with. */
export type Admission = { admitted: true } | { admitted: false; status: 429 | 503; message: string; headers: Record<string, string> };

/** A hint, not a promise: a place frees when some client leaves, which nobody can foresee. */
const RETRY_AFTER_SECONDS = 30;

export class WebSocketCaps {
  private open = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly options: WebSocketCapsOptions) {
    const caps = this;
    if (options.registry) {
      new Gauge({
        name: 'sluice_websocket_connections',
        help: 'WebSocket connections open now (and upgrades being completed), against SLUICE_WS_MAX_CONNECTIONS',
        registers: [options.registry],
        collect() {
          this.set(caps.open);
        },
      });
    }
  }

  /**
   * Takes a place for the upgrade `req`, given back when its socket closes, or says why not.
   * Synchronous, so nothing can slip between the check and the count.
   */
  admit(req: IncomingMessage): Admission {
    const address = ipIdentity(clientIpOf(req, this.options.trustProxyHops));
    const held = this.byAddress.get(address) ?? 0;
    const headers = { 'Retry-After': String(RETRY_AFTER_SECONDS) };
    if (held >= this.options.perAddress) return { admitted: false, status: 429, message: 'Too many WebSocket connections from this address', headers };
    if (this.open >= this.options.total) return { admitted: false, status: 503, message: 'Too many WebSocket connections', headers };
    // Gone already (its 'close' has been emitted): the handshake fails without it, nothing to count.
    if (req.socket.closed) return { admitted: true };
    this.open += 1;
    this.byAddress.set(address, held + 1);
    req.socket.once('close', () => {
      this.open -= 1;
      const left = (this.byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
    });
    return { admitted: true };
  }
}
