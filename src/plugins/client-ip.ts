/**
 * The caller's IP address on every operation's context, for per-IP limits and the logs (how it
 * is read: platform/http/client-address.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { ClientContext } from './context.js';
import { clientIpOf } from '../platform/http/client-address.js';

export interface ClientIpOptions {
  /** Proxies in front of Sluice that append to `X-Forwarded-For`. 0: use the socket address. @default 0 */
  trustProxyHops?: number;
}

/** Puts `clientIp` on the context of every operation, HTTP and graphql-ws alike. */
export function useClientIp({ trustProxyHops = 0 }: ClientIpOptions = {}): Plugin<ClientContext> {
  return {
    onContextBuilding({ context, extendContext }) {
      // HTTP: Yoga's server context carries node's request as `req`; graphql-ws: server/websocket.ts puts
      // the upgrade request there.
      extendContext({ clientIp: clientIpOf((context as { req?: IncomingMessage }).req, trustProxyHops) });
    },
  };
}
