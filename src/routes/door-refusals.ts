/**
 * A refusal before any route ran (the body limit, the per-address limit, the loop guard, an
 * uncaught hook), as the route's own clients read errors: the catalog and the REST query
 * answer problem details, the OpenAI-compatible routes OpenAI's error object, the MCP routes a
 * JSON-RPC error, the REST login its OAuth2-style error; the rest (GraphQL, the audit export)
 * GraphQL's `{ errors }`, which their OpenAPI entries name. Every door's client thus handles a 413 or a 429 the way it
 * handles the door's other errors (docs/errors.md).
 */
import { codedErrorResponse, problemResponse, type CodedError } from '../platform/errors/index.js';
import { presentErrorDetails } from '../schema/error-details.js';
import { oauthErrorResponse, REST_LOGIN_PATH } from './auth-login.js';
import { CATALOG_PATH } from './catalog.js';
import { MCP_PATH } from './mcp.js';
import { refusalResponse } from './mcp/json-rpc.js';
import { openAIErrorResponse } from './openai-errors.js';
import { OPENAI_PREFIX } from './openai-unknown-paths.js';

type FetchAPI = { Response: typeof Response };

const under = (pathname: string, prefix: string) => pathname === prefix || pathname.startsWith(`${prefix}/`);

/** The door's own error response for `error` on `pathname`, or undefined where GraphQL's `{ errors }` is the shape. */
export function refusalInDoorShape(pathname: string, requestId: string, error: CodedError, fetchAPI: FetchAPI): Response | undefined {
  if (under(pathname, CATALOG_PATH)) return problemResponse(fetchAPI, error, requestId);
  if (under(pathname, OPENAI_PREFIX)) return openAIErrorResponse(fetchAPI, error, requestId);
  if (pathname === REST_LOGIN_PATH) return oauthErrorResponse(fetchAPI, error, requestId);
  if (under(pathname, MCP_PATH)) return refusalResponse(fetchAPI, error, presentErrorDetails(error.details), requestId);
  return undefined;
}

/** The same, GraphQL's `{ errors }` where the door has no shape of its own. */
export function doorRefusal(pathname: string, requestId: string, error: CodedError, fetchAPI: FetchAPI): Response {
  return refusalInDoorShape(pathname, requestId, error, fetchAPI) ?? codedErrorResponse(fetchAPI, error);
}
