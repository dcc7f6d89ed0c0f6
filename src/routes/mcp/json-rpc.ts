/**
 * MCP's HTTP refusals: a request refused before any MCP server sees it (bad credential, rate
 * limit, unknown endpoint, foreign Origin, unreadable body) is an HTTP status with a JSON-RPC
 * error body, as the Streamable HTTP transport answers its own refusals. The Sluice code and
 * the error's details travel in `error.data`, so a client handles the same codes as on every
 * other surface; 401 carries `WWW-Authenticate`, 429 `Retry-After` (platform/errors/http.ts).
 */
import { CodedError, httpHeadersOf, httpStatusOf } from '../../platform/errors/index.js';

/** JSON-RPC's "server error" range, as the SDK's transport uses for its own refusals. */
const TRANSPORT_ERROR = -32000;
/** JSON-RPC's code for a message that is JSON but not a request it can take. */
export const INVALID_REQUEST = -32600;
/** JSON-RPC's code for a body that is not JSON. */
export const PARSE_ERROR = -32700;

/** A request MCP cannot take: not POST, not UTF-8, not JSON (then with JSON-RPC's parse error). */
export class BadMcpRequest extends CodedError {
  readonly code = 'BAD_REQUEST';
  constructor(
    message: string,
    readonly rpcCode = TRANSPORT_ERROR,
  ) {
    super(message);
  }
}

export function refusalResponse(
  fetchAPI: { Response: typeof Response },
  error: CodedError,
  /** The error's details as clients see them (GraphQL's presentation). */
  details: Record<string, unknown>,
  requestId: string | null,
  options: { status?: number; headers?: Record<string, string> } = {},
): Response {
  const body = {
    jsonrpc: '2.0',
    error: {
      code: error instanceof BadMcpRequest ? error.rpcCode : TRANSPORT_ERROR,
      message: error.message,
      data: { code: error.code, ...details, ...(requestId ? { requestId } : {}) },
    },
    id: null,
  };
  const headers = Object.entries(httpHeadersOf(error) ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const);
  return new fetchAPI.Response(JSON.stringify(body), {
    status: options.status ?? httpStatusOf(error.code),
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...Object.fromEntries(headers), ...options.headers },
  });
}

/** The JSON-RPC messages of a body: requests (with an id) and notifications, by method. */
export interface RpcMessages {
  /** How many messages the body holds (a batch's length; 1 otherwise). */
  count: number;
  /** Every message's method (responses from the client have none). */
  methods: string[];
  /** The ids of the requests among them. */
  requestIds: (string | number)[];
  /** The `requestId`s that `notifications/cancelled` messages name. */
  cancelled: (string | number)[];
}

/** Reads what the router needs of a parsed body; the SDK's transport validates the rest. */
export function rpcMessagesOf(body: unknown): RpcMessages {
  const messages = (Array.isArray(body) ? body : [body]).filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object');
  const isId = (value: unknown): value is string | number => typeof value === 'string' || typeof value === 'number';
  const methods = messages.flatMap((message) => (typeof message.method === 'string' ? [message.method] : []));
  const requestIds = messages.flatMap((message) => (typeof message.method === 'string' && isId(message.id) ? [message.id] : []));
  const cancelled = messages.flatMap((message) => {
    if (message.method !== 'notifications/cancelled') return [];
    const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
    return isId(requestId) ? [requestId] : [];
  });
  return { count: Array.isArray(body) ? body.length : 1, methods, requestIds, cancelled };
}
