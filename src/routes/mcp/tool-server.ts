/**
 * The MCP server of one HTTP request: the SDK's low-level `Server` with the endpoint tools'
 * `tools/list` and `tools/call`. Low-level on purpose: the high-level `McpServer` validates
 * arguments itself and answers a refusal without a Sluice code, where the tools here answer
 * BAD_USER_INPUT naming the field, as every surface does (routes/mcp/endpoint-tools.ts).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { errorResult, type EndpointTool } from './endpoint-tools.js';
import { outcomeOfAnswer, outcomeOfThrown, type MessageOutcomes } from './message-outcomes.js';
import type { ToolPages } from './tool-pages.js';

const SERVER_INFO = { name: 'sluice', version: '1.0.0' };

/** What a running call is given by the protocol. */
export interface CallEnvironment {
  /** The call's JSON-RPC id, which a client's `notifications/cancelled` names. */
  requestId: string | number;
  /** Aborts when this server closes (the request's response ended). */
  signal: AbortSignal;
  /** Sends a progress notification on the call's stream; undefined when the client sent no progress token. */
  progress?: (step: number, message: string) => Promise<void>;
}

/** Why a request message of the batch is not answered (the per-caller limit): its code, message and details as clients see them. */
export interface Refusal {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export interface ToolServerOptions {
  tools: readonly EndpointTool[];
  /** `tools/list`'s pages of `tools`. */
  pages: ToolPages;
  instructions: string;
  /**
   * Asked before every request message is handled, whatever its method: a batch pays for each
   * message, not once per HTTP request. A refused `tools/call` is a tool result with `isError`,
   * any other request a JSON-RPC error; both carry the code.
   */
  admit(): Promise<Refusal | null>;
  call(tool: EndpointTool, args: unknown, environment: CallEnvironment): Promise<CallToolResult>;
  /** Told of each `tools/call`, known tool or not (the audit names them). */
  onCallNamed?(name: string): void;
  /** Where each request message's outcome goes, a refusal by `admit` included (the audit event keeps them all). */
  outcomes: MessageOutcomes;
}

export function toolServer({ tools, pages, instructions, admit, call, onCallNamed, outcomes }: ToolServerOptions): Server {
  const server = new Server(SERVER_INFO, { capabilities: { tools: {} }, instructions });
  server.setRequestHandler(ListToolsRequestSchema, (request) => pages.page(request.params?.cursor));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const { name, arguments: args } = request.params;
    onCallNamed?.(name);
    const tool = tools.find((candidate) => candidate.name === name);
    // A protocol error, as MCP has it for an unknown tool; the code says the same as elsewhere.
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool "${name}": tools/list names the tools here`, { code: 'NOT_FOUND' });
    const progressToken = extra._meta?.progressToken;
    return call(tool, args, {
      requestId: extra.requestId,
      signal: extra.signal,
      progress:
        progressToken === undefined
          ? undefined
          : (progress, message) =>
              // A progress that cannot be delivered (the client went away) does not fail the call.
              extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, message } }).catch(() => undefined),
    });
  });
  invalidParamsAsSuch(server);
  admittedFirst(server, admit);
  outcomesKept(server, outcomes);
  return server;
}

type RequestHandler = (request: unknown, extra: unknown) => Promise<unknown>;

/** JSON-RPC's "server error" range: a refusal that is not the caller's mistake in this message. */
const REFUSED = -32000;

/**
 * Every handler the server holds (the SDK's own `initialize` and `ping` too) waits for `admit`
 * first, before the SDK validates the message: a malformed message costs what a good one does.
 */
function admittedFirst(server: Server, admit: () => Promise<Refusal | null>): void {
  wrapEachHandler(server, (method, handler) => async (request, extra) => {
    const refusal = await admit();
    if (!refusal) return handler(request, extra);
    if (method === 'tools/call') return errorResult(refusal.code, refusal.message, refusal.details);
    throw new McpError(REFUSED, refusal.message, { ...refusal.details, code: refusal.code });
  });
}

/** Wraps every handler the server holds, the SDK's own (`initialize`, `ping`) too: the SDK has no hook before them. */
function wrapEachHandler(server: Server, wrap: (method: string, handler: RequestHandler) => RequestHandler): void {
  const handlers = (server as unknown as { _requestHandlers: Map<string, RequestHandler> })._requestHandlers;
  for (const [method, handler] of handlers) handlers.set(method, wrap(method, handler));
}

/** Outermost: each request message's outcome is what its client was answered, a refusal by `admit` included. */
function outcomesKept(server: Server, outcomes: MessageOutcomes): void {
  wrapEachHandler(server, (_method, handler) => async (request, extra) => {
    const settle = outcomes.begin();
    try {
      const answer = await handler(request, extra);
      settle(outcomeOfAnswer(answer));
      return answer;
    } catch (error) {
      settle(outcomeOfThrown(error));
      throw error;
    }
  });
}

/** At most this many issues are named in one refusal (a large body has as many as it likes). */
const MAX_ISSUES = 5;

/**
 * The SDK checks each request against its method's schema before any handler runs, and
 * answered a mismatch (`"arguments": [1]`, `"name": 5`, `initialize` without its params) as
 * -32603 Internal error with the raw zod issues as the message. A caller's mistake is -32602
 * Invalid params, with a readable message and `data` as every surface gives it (code
 * BAD_USER_INPUT, `issues` of `{ path, message }`). The SDK has no hook for it, so the handlers
 * it holds, its own `initialize` included, are wrapped (test/routes/mcp-invalid-params.test.ts
 * fails if an SDK update moves them).
 */
function invalidParamsAsSuch(server: Server): void {
  wrapEachHandler(server, (method, handler) => async (request, extra) => {
    try {
      return await handler(request, extra);
    } catch (error) {
      throw invalidParamsOf(method, error) ?? error;
    }
  });
}

function invalidParamsOf(method: string, error: unknown): McpError | undefined {
  // zod's classic ZodError, or its core $ZodError (what the SDK's schemas throw under some loaders).
  const { name, issues } = (error ?? {}) as { name?: unknown; issues?: unknown };
  if ((name !== 'ZodError' && name !== '$ZodError') || !Array.isArray(issues)) return undefined;
  const named = (issues as { path?: PropertyKey[]; message?: string }[]).slice(0, MAX_ISSUES).map((issue) => ({
    path: (issue.path ?? []).map(String).join('.'),
    message: String(issue.message ?? 'invalid').slice(0, 200),
  }));
  const more = issues.length > named.length ? ` (and ${issues.length - named.length} more)` : '';
  const message = `Invalid params for ${method.slice(0, 100)}: ${named.map(({ path, message }) => (path ? `${path}: ${message}` : message)).join('; ')}${more}`;
  return new McpError(ErrorCode.InvalidParams, message, { code: 'BAD_USER_INPUT', issues: named });
}
