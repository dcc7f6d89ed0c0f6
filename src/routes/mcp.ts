/**
 * MCP (Model Context Protocol) over Streamable HTTP, with the official SDK's web-standard
 * transport (it takes the Fetch Request Yoga hands in and returns a Response):
 *  - `POST /mcp`: the tools of the caller's own tenant's endpoints (a credential is needed);
 *  - `POST /mcp/{tenant}/{endpoint}`: the tools of that one endpoint, reached as a query
 *    reaches it (own tenant, published, or whatever the query service allows).
 * routes/mcp/endpoint-tools.ts says what the tools are.
 *
 * Stateless: every HTTP request gets its own MCP server and transport, so any API instance
 * answers any request and nothing is kept between them. GET (a server-initiated stream) and
 * DELETE (ending a session) are 405, as the specification allows. The session id handed out
 * at `initialize` is stored nowhere: clients echo it, and it only tells their cancellations
 * apart (routes/mcp/in-flight-calls.ts). It is signed and bound to the caller
 * (mcp/signed-tokens.ts): anonymous callers behind one address (a NAT) are one principal, and
 * only a session id the server issued keeps one from cancelling another's calls.
 *
 * Bounded per HTTP request: a batch holds at most MAX_BATCH_MESSAGES messages, each request
 * message past the first takes one more request from the per-caller limit, and `tools/list`
 * answers in pages (mcp/tool-pages.ts), built once per HTTP request.
 *
 * Every request goes through the ConsumerDoor (credential, per-principal limit, IP allow-list,
 * one `mcp.request` audit event when the response has ended, with each request message's
 * outcome, without query text). A refusal before MCP runs is an HTTP status with a JSON-RPC
 * error (routes/mcp/json-rpc.ts).
 *
 * Origin (the MCP specification asks servers to check it, against DNS rebinding): requests
 * without one (every non-browser client) pass; a browser page must be of an origin listed in
 * CORS_ORIGINS. Neither `*` nor "same host as the Host header" counts, unlike the WebSocket
 * upgrade: a rebinding page's Origin and Host name the attacker's domain alike, so a same-host
 * rule lets it through, and a development server (`*` by default) is what rebinding targets.
 */
import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Plugin } from 'graphql-yoga';
import type { Actor } from '../domains/actor.js';
import type { AskableEndpoint } from '../domains/endpoint-queries/askable-endpoints.js';
import { CodedError, codedFailure, codedOrMasked, ForbiddenError, NotFoundError, UnauthenticatedError, type PresentDetails } from '../platform/errors/index.js';
import { originAllowed } from '../platform/http/cors.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import { jsonTextOf, RefusedBodyError } from '../platform/input/utf8-text.js';
import type { CallCancelBus } from '../platform/events/event-bus.js';
import type { Logger } from '../platform/logging/logger.js';
import { lostStanding, type ConsumerDoor, type OpenedDoor } from './consumer-door.js';
import { CANCELLED, callTool, endpointTools, errorResult, type EndpointTool } from './mcp/endpoint-tools.js';
import { toolServer, type Refusal } from './mcp/tool-server.js';
import { MessageOutcomes } from './mcp/message-outcomes.js';
import { callKey, InFlightCalls } from './mcp/in-flight-calls.js';
import { signedToken, verifiedToken, type KeyedDigests } from './mcp/signed-tokens.js';
import { ToolPages } from './mcp/tool-pages.js';
import { BadMcpRequest, INVALID_REQUEST, PARSE_ERROR, refusalResponse, rpcMessagesOf } from './mcp/json-rpc.js';

export const MCP_PATH = '/mcp';
/** `/mcp/{tenant}/{endpoint}`: one endpoint's tools. */
export const ENDPOINT_PATH = /^\/mcp\/([a-z0-9-]{1,64})\/([a-z0-9-]{3,64})\/?$/;

/**
 * Messages one JSON-RPC batch may hold, whatever their methods: as many endpoint queries as one
 * GraphQL operation may ask (a field and 15 aliases, the default operation limits). The SDK
 * takes 100, and 100 `tools/list` of a full tenant were 57 MB of answer to a 5 KB request.
 * Each request message past the first also takes its own request from the per-caller limit.
 */
export const MAX_BATCH_MESSAGES = 16;
const SESSION_PURPOSE = 'mcp session';

export interface McpOptions {
  door: ConsumerDoor;
  /** CORS_ORIGINS: browser pages of these origins may call (`*` does not count here: see above). */
  corsOrigins: readonly string[];
  logger: Logger;
  /** How error details are shown, as GraphQL shows them (policy ids as global ids). */
  presentDetails: PresentDetails;
  /** Cancellations to and from the other API processes (with Redis); absent: this process only. */
  callCancels?: CallCancelBus;
  /** Aborted at shutdown: stops listening for cancellations. */
  shutdownSignal?: AbortSignal;
  /**
   * Keyed digests under the master key: of a call's key, so the bus never carries who called
   * (mcp/in-flight-calls.ts); signing session ids and `tools/list` cursors (mcp/signed-tokens.ts).
   */
  keys: KeyedDigests;
}

export function useMcp({ door, corsOrigins, logger, presentDetails, callCancels, shutdownSignal, keys }: McpOptions): Plugin {
  const callKeyDigest = (text: string) => keys.digest('mcp call', text).digest;
  const inFlight = new InFlightCalls(callCancels, shutdownSignal, (error) => logger.error({ err: error }, 'MCP cancellations from other processes are no longer heard'));
  const listedOrigins = corsOrigins.filter((origin) => origin !== '*');
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== MCP_PATH && !url.pathname.startsWith(`${MCP_PATH}/`)) return;
      // A CORS preflight is Yoga's to answer.
      if (request.method === 'OPTIONS') return;
      const requestId = requestIdOf(request);
      const refuse = (error: CodedError, options?: Parameters<typeof refusalResponse>[4]) => endResponse(refusalResponse(fetchAPI, error, presentDetails(error.details), requestId, options));
      const route = routeOf(url.pathname);
      if (!route) return refuse(new NotFoundError('MCP server', { path: url.pathname }));
      if (!originAllowed(listedOrigins, request.headers.get('origin') ?? undefined)) {
        return refuse(new ForbiddenError('This origin may not call the MCP server: only browser pages of an origin listed in CORS_ORIGINS may'));
      }
      if (request.method !== 'POST') {
        return refuse(new BadMcpRequest('This stateless MCP server takes POST only (no server-initiated stream, no session to end)'), { status: 405, headers: { allow: 'POST' } });
      }

      let opened: OpenedDoor;
      try {
        // An addressed endpoint is known before the door: a refusal goes on its decision log.
        const endpointRef = route.kind === 'endpoint' ? route.reference : undefined;
        opened = await door.open({ request, serverContext, action: 'mcp.request', endpointRef });
      } catch (error) {
        return refuse(codedOrLogged(error, logger.child({ requestId })));
      }
      // Tool names as the client sent them are not kept: one could be anything (a key pasted in
      // the wrong field). Known tools are named, the rest counted; at most MAX_BATCH_MESSAGES of each.
      const routeName = route.kind === 'endpoint' ? route.reference : 'tenant';
      const audit = { route: routeName, methods: [] as string[], tools: [] as string[], unknownTools: 0 };
      // Each request message's outcome, not one for the request: a batch's call that ran is
      // audited in full beside one refused by a limit (mcp/message-outcomes.ts). `failure`: the
      // request failed whole, before any message was answered.
      const outcomes = new MessageOutcomes();
      let requestMessages = 0;
      let failure: string | undefined;
      const finish = () => opened.finish(failure ?? outcomes.list(requestMessages), audit);
      try {
        const body = await jsonBodyOf(request);
        const messages = rpcMessagesOf(body);
        requestMessages = messages.requestIds.length;
        audit.methods = messages.methods.slice(0, 20).map((method) => method.slice(0, 100));
        if (messages.count > MAX_BATCH_MESSAGES) {
          throw new BadMcpRequest(`A batch holds at most ${MAX_BATCH_MESSAGES} messages (this one held ${messages.count}): send the rest in further requests`, INVALID_REQUEST);
        }
        const principal = principalOf(opened.actor, opened.facts.ip);
        const sessionId = request.headers.get('mcp-session-id');
        // An anonymous caller's cancellation counts only under a session id issued to its address;
        // without one it is ignored (closing the call's stream still stops the call).
        const mayCancel = opened.actor.kind !== 'anonymous' || verifiedToken(keys, SESSION_PURPOSE, sessionId, principal) !== null;
        const keyOf = (requestId: string | number) => callKey(principal, routeName, sessionId, requestId, callKeyDigest);
        if (mayCancel) for (const cancelled of messages.cancelled) inFlight.cancelAnywhere(keyOf(cancelled), 'the client cancelled the call');
        // Only requests need the tools; notifications (initialized, cancelled) are answered 202.
        const endpoints = messages.requestIds.length > 0 ? await endpointsOf(route, opened) : [];
        const tools = endpointTools(endpoints);
        const gone = new AbortController();
        // The door took one request for the HTTP request; each further request message takes its own.
        let requests = 0;
        const admit = async (): Promise<Refusal | null> => {
          requests += 1;
          if (requests === 1) return null;
          const limited = await opened.takeAnother();
          if (!limited) return null;
          return { code: limited.code, message: limited.message, details: presentDetails(limited.details) };
        };
        const server = toolServer({
          tools,
          // A cursor pages this caller's list on this route: another tenant's, or another caller's, is not it.
          pages: new ToolPages(tools, keys, `${routeName} ${principal}`),
          admit,
          outcomes,
          instructions: instructionsFor(route, endpoints),
          onCallNamed: (name) => {
            if (tools.some((tool) => tool.name === name)) audit.tools.push(name);
            else audit.unknownTools += 1;
          },
          call: async (tool, args, { requestId, signal, progress }) => {
            // The credential watch (consumer-door.ts) stops a call as the client's cancellation does.
            const running = inFlight.start(keyOf(requestId), AbortSignal.any([signal, gone.signal, opened.standing]));
            try {
              const result = await runCall(tool, args, presentDetails, { queries: opened.services.queries, signal: running.signal, progress });
              const lost = lostStanding(opened);
              // The error a GraphQL subscription ends with, as this server's tool errors are.
              if (lost) return errorResult(lost.code, lost.message, presentDetails(lost.details));
              return result;
            } finally {
              running.end();
            }
          },
        });
        server.onerror = (error) => opened.logger.debug({ err: error }, 'MCP protocol error');
        const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        await server.connect(transport);
        const response = await transport.handleRequest(request, { parsedBody: body });
        if (response.status >= 400) failure = 'BAD_REQUEST';
        const headers = new Headers(response.headers);
        // A session id for the client to echo: it tells its cancellations apart, and is stored nowhere.
        if (messages.methods.includes('initialize') && response.ok) headers.set('mcp-session-id', signedToken(keys, SESSION_PURPOSE, randomUUID(), principal));
        const ended = () => {
          gone.abort(new Error('the client closed the response'));
          finish();
          void server.close().catch(() => undefined);
        };
        return endResponse(new fetchAPI.Response(response.body ? whenEnded(response.body, ended) : (ended(), null), { status: response.status, headers }));
      } catch (error) {
        const coded = codedOrLogged(error, opened.logger);
        failure = coded.code;
        finish();
        return refuse(coded);
      }
    },
  };
}

type McpRoute = { kind: 'tenant' } | { kind: 'endpoint'; reference: string };

function routeOf(pathname: string): McpRoute | null {
  if (pathname === MCP_PATH || pathname === `${MCP_PATH}/`) return { kind: 'tenant' };
  const match = ENDPOINT_PATH.exec(pathname);
  return match ? { kind: 'endpoint', reference: `${match[1]}/${match[2]}` } : null;
}

/** The endpoints whose tools this request offers: the one addressed, or the caller's own tenant's. */
async function endpointsOf(route: McpRoute, opened: OpenedDoor): Promise<AskableEndpoint[]> {
  if (route.kind === 'endpoint') return [await opened.services.askable.describe(route.reference)];
  // Anonymous callers have no tenant of their own: they address one endpoint.
  if (opened.actor.kind === 'anonymous') throw new UnauthenticatedError('Authenticate to list your tenant’s endpoints, or address one: /mcp/{tenant}/{endpoint}');
  return opened.services.askable.ownTenant();
}

function instructionsFor(route: McpRoute, endpoints: readonly AskableEndpoint[]): string {
  const which = route.kind === 'endpoint' && endpoints[0] ? `the Sluice endpoint "${endpoints[0].name}" (${endpoints[0].reference})` : 'the Sluice endpoints of your tenant';
  return `Tools for ${which}: search_<endpoint> returns the passages that best match a query; ask_<endpoint> answers a question from them, with [n] citations.`;
}

async function runCall(tool: EndpointTool, args: unknown, presentDetails: PresentDetails, context: Parameters<typeof callTool>[2]) {
  try {
    return await callTool(tool, args, context);
  } catch (error) {
    if (context.signal.aborted) return errorResult(CANCELLED, 'The call was cancelled');
    const coded = codedFailure(error);
    if (coded) return errorResult(coded.code, coded.message, presentDetails(coded.details));
    throw error;
  }
}

/** The body as JSON: UTF-8 only, as on every door (platform/input/utf8-text.ts). */
async function jsonBodyOf(request: Request): Promise<unknown> {
  let text: string;
  try {
    text = await jsonTextOf(request);
  } catch (error) {
    if (error instanceof RefusedBodyError) throw new BadMcpRequest(error.message, PARSE_ERROR);
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new BadMcpRequest('Parse error: the body is not JSON', PARSE_ERROR);
  }
}

/** Who is calling, for keying their calls: a credential's principal, or an anonymous caller's address. */
function principalOf(actor: Actor, ip: string): string {
  switch (actor.kind) {
    case 'user':
      return `user:${actor.userId}@${actor.tenantId}`;
    case 'apiKey':
      return `key:${actor.apiKeyId}`;
    case 'external':
      return `external:${actor.issuer}#${actor.subject}@${actor.tenantId}`;
    default:
      return `anonymous:${ip}`;
  }
}

/** `body`, calling `ended` once when it has been read to the end, failed, or been cancelled by the client. */
function whenEnded(body: ReadableStream<Uint8Array>, ended: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    ended();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) {
          controller.close();
          end();
        } else controller.enqueue(next.value);
      } catch (error) {
        controller.error(error);
        end();
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason).catch(() => undefined);
    },
  });
}

function codedOrLogged(error: unknown, logger: Logger): CodedError {
  return codedOrMasked(error, (err) => logger.error({ err }, 'MCP request failed'));
}
