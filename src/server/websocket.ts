/**
 * graphql-ws on the HTTP server's port and path: each operation runs through the same
 * envelop plugins as HTTP (Yoga's graphql-ws recipe, `yoga.getEnveloped`), with the upgrade
 * request as `req` so the client address and limits apply as they do over HTTP. Every message
 * is screened before graphql-ws parses it (graphql-ws-transport.ts, websocket-messages.ts). The
 * returned `dispose()` completes every subscription and closes every socket (1001).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import { makeServer, MessageType, stringifyMessage, type Context, type Disposable, type OperationResult } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import { codedErrorToGraphQL, hasErrorCode, maskedError, toClientError, withExtensions, type RateLimitedError } from '../platform/errors/index.js';
import { clientIpOf } from '../platform/http/client-address.js';
import { HOST_REFUSAL_MESSAGE, hostAllowed } from '../platform/http/allowed-hosts.js';
import { originAllowed, sameHostOrigin } from '../platform/http/cors.js';
import type { TrustedDocuments } from '../platform/trusted-documents/document-store.js';
import type { Logger } from '../platform/logging/logger.js';
import type { GraphQLContext } from '../plugins/context.js';
import type { AddressLimit } from '../plugins/ip-rate-limit.js';
import { trustedQueryOf } from '../plugins/trusted-documents.js';
import type { RefusedOperationAudit } from '../plugins/refused-operations.js';
import { presentErrorDetails } from '../schema/error-details.js';
import type { WebSocketCaps } from './websocket-caps.js';
import { serveGraphQLWs, type Extra } from './graphql-ws-transport.js';
import type { ScreenedMessage } from './websocket-messages.js';

export interface WebSocketOptions {
  httpServer: Server;
  yoga: YogaServerInstance<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>;
  http: Config['http'];
  /** Where an operation refused before its context was built is recorded (plugins/refused-operations.ts). */
  refusedOperations: Pick<RefusedOperationAudit, 'refusedBeforeContext'>;
  /** SLUICE_MAX_VARIABLE_VALUES: a subscribe message holding more values is refused before it is parsed. */
  maxVariableValues: number;
  /** Persisted-operations-only mode (SLUICE_TRUSTED_DOCUMENTS). */
  trustedDocuments: TrustedDocuments | undefined;
  /** Unexpected errors are masked in production. */
  production: boolean;
  /** Open connections per client address and per process; an upgrade past either is refused (429 / 503). */
  caps: WebSocketCaps;
  /** The per-address request limit, taken by each operation before its document is read; undefined when rate limits are off. */
  addressLimit: AddressLimit | undefined;
  trustProxyHops: number;
  /** Refused messages and graphql-ws's own failures are logged here. */
  logger: Logger;
  /** Where sluice_websocket_messages_refused_total is served from (/metrics). */
  registry?: Registry;
}

/**
 * Each operation's `signal` (RequestFacts), as HTTP requests have their request's: aborted when
 * the client completes the operation before its result (graphql-ws `complete`) or the socket
 * closes, so that work waiting for its turn (an endpoint query's share of the pool) leaves the
 * line when nobody waits for the answer. graphql-ws itself only forgets such an operation: its
 * execution runs on.
 */
class OperationSignals {
  /** By id: the running operation's controller, and its subscribe message's payload (which operation it is). */
  private readonly running = new Map<string, { controller: AbortController; payload: unknown }>();

  constructor(socket: WebSocket) {
    socket.once('close', () => {
      for (const id of [...this.running.keys()]) this.abort(id);
    });
  }

  /**
   * The signal of the operation `payload` subscribed as `id`. graphql-ws takes an id again only
   * once the client completed the operation under it: one still here is abandoned, and leaves.
   */
  open(id: string, payload: unknown): AbortSignal {
    this.abort(id);
    const controller = new AbortController();
    this.running.set(id, { controller, payload });
    return controller.signal;
  }

  /**
   * The operation `payload` subscribed ended (its result or error was sent). A client may reuse
   * an id once it completed it: the operation now running under it is another one, kept.
   */
  ended(id: string, payload: unknown): void {
    if (this.running.get(id)?.payload === payload) this.running.delete(id);
  }

  /** The client sent `complete` for `id` (graphql-ws only forgets the operation). */
  abort(id: string): void {
    const operation = this.running.get(id);
    this.running.delete(id);
    operation?.controller.abort();
  }
}

/** What this file keeps per socket. */
interface SocketState {
  signals: OperationSignals;
  /** graphql-ws's context, from connection_init on. */
  context?: Context<Record<string, unknown> | undefined, Extra>;
  /**
   * The per-address limit's verdict on each `subscribe` by id, taken before graphql-ws parsed it
   * (`beforeParse`) and read by onSubscribe: null, allowed.
   */
  verdicts: Map<string, RateLimitedError | null>;
}

const socketStates = new WeakMap<WebSocket, SocketState>();
function stateOf(socket: WebSocket): SocketState {
  let state = socketStates.get(socket);
  if (!state) socketStates.set(socket, (state = { signals: new OperationSignals(socket), verdicts: new Map() }));
  return state;
}

export function serveWebSockets({ httpServer, yoga, http, trustedDocuments, production, caps, addressLimit, trustProxyHops, logger, registry, maxVariableValues, refusedOperations }: WebSocketOptions): Disposable {
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: yoga.graphqlEndpoint,
    // A WebSocket message larger than this closes the socket with 1009 (message too big);
    // smaller ones are screened by type before graphql-ws parses them (websocket-messages.ts).
    maxPayload: http.maxBodyBytes,
    // First the Host allow-list, as HTTP requests meet it (allowed-hosts.ts): a rebound page's
    // upgrade names the attacker's host, and its Origin that same host, so the same-origin rule
    // below would pass it. CORS does not cover WebSockets: a browser page of an origin not on
    // the allow-list is refused at the upgrade (403). Clients that are not browsers send no
    // Origin and pass, and so do pages of this server's own origin (the console). Then the
    // connection caps (websocket-caps.ts): past them 429 or 503, before the handshake completes.
    verifyClient: ({ origin, req }, done) => {
      if (!hostAllowed(http.allowedHosts, req.headers.host)) return done(false, 403, HOST_REFUSAL_MESSAGE, { 'Content-Type': 'text/plain; charset=utf-8' });
      if (!originAllowed(http.corsOrigins, origin, { loopback: http.corsLoopback }) && !sameHostOrigin(origin, req.headers.host)) return done(false, 403, 'Origin not allowed');
      const admission = caps.admit(req);
      if (!admission.admitted) return done(false, admission.status, admission.message, admission.headers);
      done(true);
    },
  });

  /**
   * Before graphql-ws parses a screened message: a `complete` aborts its operation's signal,
   * and a `subscribe` takes from the per-address limit, as HTTP does before it reads a body
   * (plugins/ip-rate-limit.ts): a flood of operations is refused for the cost of taking from a
   * bucket, not of parsing each. A refused one is answered here, unread, as graphql-ws answers
   * a refusal from onSubscribe; unless graphql-ws would close the socket for it (not yet
   * acknowledged, or its id in use), which it is then left to do.
   */
  async function beforeParse(message: ScreenedMessage, { socket, request }: Extra): Promise<boolean> {
    if (message.type === MessageType.Complete && message.id !== undefined) socketStates.get(socket)?.signals.abort(message.id);
    if (message.type !== MessageType.Subscribe || message.id === undefined || !addressLimit) return true;
    const limited = await addressLimit.refusal(clientIpOf(request, trustProxyHops));
    const state = stateOf(socket);
    if (limited && state.context?.acknowledged && !(message.id in state.context.subscriptions)) {
      if (socket.readyState === socket.OPEN) socket.send(stringifyMessage({ id: message.id, type: MessageType.Error, payload: [codedErrorToGraphQL(limited).toJSON()] }));
      return false;
    }
    state.verdicts.set(message.id, limited);
    return true;
  }

  const server = makeServer<Record<string, unknown> | undefined, Extra>({
    // graphql-ws's default, written out: a socket that has not sent connection_init within
    // 3 s is closed (4408), giving its place under the caps back.
    connectionInitWaitTimeout: 3_000,
    // Acknowledged as before (no onConnect verdict); kept for beforeParse.
    onConnect: (ctx) => {
      stateOf(ctx.extra.socket).context = ctx;
    },
    // Yoga's graphql-ws recipe: each operation runs through the same envelop plugins as HTTP.
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
    onSubscribe: async (ctx, id, sent) => {
      const state = stateOf(ctx.extra.socket);
      // Counted before graphql-ws parsed the message (beforeParse); here only if it somehow was not.
      const counted = state.verdicts.get(id);
      state.verdicts.delete(id);
      const limited = counted !== undefined ? counted : await addressLimit?.refusal(clientIpOf(ctx.extra.request, trustProxyHops));
      if (limited) return [codedErrorToGraphQL(limited)];
      // Persisted-operations-only mode: the payload names a trusted document instead of carrying one.
      let params = sent;
      try {
        if (trustedDocuments) params = { ...sent, query: trustedQueryOf(trustedDocuments, sent) };
      } catch (error) {
        refusedOperations.refusedBeforeContext({ req: ctx.extra.request, params: sent, connectionParams: ctx.connectionParams }, [error as GraphQLError]);
        return [error as GraphQLError];
      }
      const initial = {
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        signal: state.signals.open(id, sent),
        params,
        connectionParams: ctx.connectionParams,
      };
      const enveloped = yoga.getEnveloped(initial);
      let document: DocumentNode;
      try {
        document = enveloped.parse(params.query);
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        // A syntax error is GRAPHQL_PARSE_FAILED, as Yoga codes it over HTTP (only there: its plugin needs a fetch Request).
        const syntaxError = !error.originalError && !hasErrorCode(error) ? withExtensions(error, { code: 'GRAPHQL_PARSE_FAILED' }) : error;
        const answered = [toClientError(syntaxError, { presentDetails: presentErrorDetails }) ?? maskedError(error, 'unknown', !production)];
        // Over HTTP Yoga's onExecutionResult sees a refused document; over graphql-ws only this.
        refusedOperations.refusedBeforeContext(initial, answered);
        return answered;
      }
      try {
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) {
          refusedOperations.refusedBeforeContext(initial, errors);
          return errors;
        }
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies EnvelopedRoot,
        };
        return args;
      } catch (error) {
        if (error instanceof GraphQLError) return [toClientError(error, { presentDetails: presentErrorDetails }) ?? maskedError(error, 'unknown', !production)];
        throw error;
      }
    },
    onComplete: (ctx, id, payload) => stateOf(ctx.extra.socket).signals.ended(id, payload),
    onError: (ctx, id, payload) => {
      stateOf(ctx.extra.socket).signals.ended(id, payload);
    },
  });
  return serveGraphQLWs(server, wsServer, {
    // Pinged this often; a socket that has not answered within as long again is closed (a
    // dropped network ends its subscriptions too). 0: never.
    keepAliveMs: http.webSocketKeepAliveMs,
    maxMessageBytes: http.maxBodyBytes,
    // The variables' bound, and room for the operation and the message around it (as an HTTP body gets).
    maxSubscribeValues: maxVariableValues + 64,
    logger,
    trustProxyHops,
    registry,
    beforeParse,
  });
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
