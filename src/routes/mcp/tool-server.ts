/**
 * The MCP server of one HTTP request: the SDK's low-level `Server` with the endpoint tools'
 * `tools/list` and `tools/call`. Low-level on purpose: the high-level `McpServer` validates
 * arguments itself and answers a refusal without a Sluice code, where the tools here answer
 * BAD_USER_INPUT naming the field, as every surface does (routes/mcp/endpoint-tools.ts).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toolDefinition, type EndpointTool } from './endpoint-tools.js';

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

export interface ToolServerOptions {
  tools: readonly EndpointTool[];
  instructions: string;
  call(tool: EndpointTool, args: unknown, environment: CallEnvironment): Promise<CallToolResult>;
  /** Told of each `tools/call`, known tool or not (the audit names them). */
  onCallNamed?(name: string): void;
}

export function toolServer({ tools, instructions, call, onCallNamed }: ToolServerOptions): Server {
  const server = new Server(SERVER_INFO, { capabilities: { tools: {} }, instructions });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map(toolDefinition) }));
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
  return server;
}
