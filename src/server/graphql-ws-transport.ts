/**
 * graphql-ws's server on `ws` sockets, in place of graphql-ws's `useServer` (graphql-ws/use/ws,
 * whose behaviour this keeps: subprotocol, keep-alive pings, close on dispose) for two reasons:
 * every message is screened before graphql-ws parses it (websocket-messages.ts: pace, UTF-8,
 * nesting depth, size by type), where `useServer` hands each one to `JSON.parse` as it
 * arrives; and failures go to the server's logger, not `console.error`.
 *
 * A refused message closes its socket (websocket-messages.ts says with which code), is counted
 * in `sluice_websocket_messages_refused_total` by reason, and logged. Messages are handed on
 * in the order they arrived, each after `beforeParse` (which may answer one itself).
 */
import type { IncomingMessage } from 'node:http';
import { CloseCode, handleProtocols, type Disposable, type Server } from 'graphql-ws';
import { Counter, type Registry } from 'prom-client';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { clientIpOf } from '../platform/http/client-address.js';
import type { Logger } from '../platform/logging/logger.js';
import { isRefusal, SocketMessages, type MessageRefusal, type ScreenedMessage } from './websocket-messages.js';

/** graphql-ws's `ctx.extra`, as `useServer` gives it. */
export interface Extra {
  socket: WebSocket;
  request: IncomingMessage;
}

export interface TransportOptions {
  /** Ping interval; a socket that has not answered one within as long again is terminated. 0 or Infinity: never. */
  keepAliveMs: number;
  /** The largest message (`subscribe`); `ws` closes a socket sending a larger one with 1009. */
  maxMessageBytes: number;
  /** The most JSON values a `subscribe` message may hold (counted before it is parsed). */
  maxSubscribeValues: number;
  logger: Logger;
  trustProxyHops: number;
  /** Where sluice_websocket_messages_refused_total is served from (/metrics). */
  registry?: Registry;
  /**
   * Called with each screened message, in order, before graphql-ws parses it. `false`: the hook
   * answered the message itself, and graphql-ws never sees it.
   */
  beforeParse?: (message: ScreenedMessage, extra: Extra) => boolean | Promise<boolean>;
}

type MessageHandler = (text: string) => Promise<void>;

export function serveGraphQLWs(server: Server<Extra>, wsServer: WebSocketServer, options: TransportOptions): Disposable {
  const { logger, keepAliveMs, beforeParse } = options;
  const refused = new Counter({
    name: 'sluice_websocket_messages_refused_total',
    help: 'WebSocket messages refused before graphql-ws parsed them (the socket was closed), by reason',
    labelNames: ['reason'],
    registers: options.registry ? [options.registry] : [],
  });
  wsServer.options.handleProtocols = handleProtocols;

  wsServer.once('error', (error) => {
    logger.error({ err: error }, 'the WebSocket server failed; closing its sockets');
    for (const client of wsServer.clients) client.close(CloseCode.InternalServerError, 'Internal server error');
  });

  wsServer.on('connection', (socket, request) => {
    const extra: Extra = { socket, request };
    const internalError = (error: unknown) => {
      logger.error({ err: error }, 'graphql-ws failed handling a message; closing the socket');
      if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
    };
    // Frames `ws` itself refuses (over the size limit: 1009; text that is not UTF-8: 1007) close the socket there.
    socket.once('error', (error: Error & { code?: string }) => {
      const clientIp = clientIpOf(request, options.trustProxyHops);
      if (error.code?.startsWith('WS_ERR_')) {
        refused.inc({ reason: error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too_large' : error.code === 'WS_ERR_INVALID_UTF8' ? 'not_utf8' : 'invalid_frame' });
        logger.warn({ err: error, clientIp }, 'a WebSocket frame was refused; the socket is closed');
      } else logger.warn({ err: error, clientIp }, 'a WebSocket failed');
      if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
    });

    let pongWait: NodeJS.Timeout | undefined;
    const pingInterval =
      keepAliveMs > 0 && Number.isFinite(keepAliveMs)
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
            socket.once('pong', () => clearTimeout(pongWait));
            socket.ping();
          }, keepAliveMs)
        : undefined;

    let handle: MessageHandler | undefined;
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handler) => {
          handle = handler;
        },
      },
      extra,
    );

    const messages = new SocketMessages(options.maxMessageBytes, options.maxSubscribeValues);
    const refuse = (refusal: MessageRefusal) => {
      refused.inc({ reason: refusal.reason });
      logger.warn(
        { clientIp: clientIpOf(request, options.trustProxyHops), reason: refusal.reason, messageType: refusal.type, bytes: refusal.bytes, closeCode: refusal.code },
        `a WebSocket message was refused before it was parsed; the socket is closed: ${refusal.message}`,
      );
      socket.close(refusal.code, refusal.message);
    };
    // In arrival order: a `complete` must not overtake the `subscribe` it ends while that one waits in beforeParse.
    let handedOn: Promise<void> = Promise.resolve();
    socket.on('message', (data: RawData, isBinary: boolean) => {
      // Refused, closing, or closed: what still arrives is not read.
      if (socket.readyState !== socket.OPEN) return;
      const screened = messages.screen(bytesOf(data), isBinary);
      if (isRefusal(screened)) return refuse(screened);
      handedOn = handedOn
        .then(async () => {
          if (beforeParse && !(await beforeParse(screened, extra))) return;
          if (socket.readyState !== socket.OPEN || !handle) return;
          // Not awaited: graphql-ws runs an operation for as long as it lasts, and reads the next message meanwhile.
          handle(screened.text).catch(internalError);
        })
        .catch(internalError);
    });

    socket.once('close', (code, reason) => {
      clearTimeout(pongWait);
      clearInterval(pingInterval);
      void closed(code, String(reason)).catch((error: unknown) => logger.error({ err: error }, 'graphql-ws failed closing a socket'));
    });
  });

  return {
    dispose: async () => {
      for (const client of wsServer.clients) client.close(1001, 'Going away');
      wsServer.removeAllListeners();
      await new Promise<void>((resolve, reject) => wsServer.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
