/**
 * The first step of a server's shutdown: stop accepting, end subscriptions, let in-flight
 * requests finish, and past the shutdown timeout end what is left (server.ts `close`).
 */
import type { Server } from 'node:http';
import type { Disposable } from 'graphql-ws';
import { UnavailableError } from '../platform/errors/index.js';
import type { Logger } from '../platform/logging/logger.js';

/**
 * After the shutdown timeout, how long the requests told UNAVAILABLE have to send it and end
 * before their connections are closed regardless.
 */
const CUT_GRACE_MS = 1_000;

export interface DrainOptions {
  httpServer: Server;
  /** The graphql-ws server: its subscriptions end and its sockets close (1001) first. */
  webSockets: Disposable;
  logger: Logger;
  /** SLUICE_SHUTDOWN_TIMEOUT_MS: how long in-flight requests may go on. */
  shutdownTimeoutMs: number;
  /** Aborted at the timeout: every consumer route ends its answer with UNAVAILABLE in its format (routes/consumer-door.ts `standing`). */
  cut: AbortController;
}

export async function drainConnections({ httpServer, webSockets, logger, shutdownTimeoutMs, cut }: DrainOptions): Promise<void> {
  const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
  await webSockets.dispose();
  httpServer.closeIdleConnections();
  let cutTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    // First the requests' own last words; what is still open a moment later is cut.
    logger.warn({ timeoutMs: shutdownTimeoutMs }, 'shutdown timeout: ending the remaining requests with UNAVAILABLE');
    cut.abort(new UnavailableError('The server is shutting down: send the request again.', 'shutdown', 1));
    cutTimer = setTimeout(() => {
      logger.warn({ graceMs: CUT_GRACE_MS }, 'shutdown timeout: closing remaining connections');
      httpServer.closeAllConnections();
    }, CUT_GRACE_MS);
  }, shutdownTimeoutMs);
  // Keep-alive connections become idle as their last response ends; close them as they do.
  const idleSweep = setInterval(() => httpServer.closeIdleConnections(), 100);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
    clearTimeout(cutTimer);
    clearInterval(idleSweep);
  }
}
