/**
 * CSRF prevention for browser requests (the rule of Yoga's useCSRFPrevention, with a coded
 * error, and the REST login covered too).
 *
 * A browser sends a cross-site request without asking the server first (no CORS preflight)
 * only when it is "simple": GET, or POST with a form-like content type (text/plain,
 * application/x-www-form-urlencoded, multipart/form-data) and no custom header. Such requests
 * must carry a header a cross-site page cannot add without a preflight, which the CORS
 * allow-list then decides. Any of these counts:
 * - `x-sluice-csrf` (any value), or Yoga's and Apollo's `x-graphql-yoga-csrf` /
 *   `apollo-require-preflight`, for clients that send nothing else;
 * - `authorization` or `x-api-key`: not CORS-safelisted either, so a request carrying one was
 *   preflighted. Authenticated uploads (multipart) therefore pass as they are.
 *
 * `application/json` POSTs (every GraphQL client, GraphiQL, SSE over POST) are preflighted and
 * pass. graphql-ws is not HTTP after the upgrade; server.ts checks the upgrade's Origin.
 * The GraphiQL page itself (a navigation) is served before this check.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { httpStatusOf, type ErrorCode } from '../platform/errors/index.js';

export const CSRF_HEADER_REQUIRED = 'CSRF_HEADER_REQUIRED' satisfies ErrorCode;

export interface CsrfPreventionOptions {
  /** Headers whose presence proves a preflighted (or non-browser) request. @default see module comment */
  requestHeaders?: string[];
  /** Non-GraphQL paths that get the same check (the REST login). @default [] */
  extraPaths?: string[];
}

const DEFAULT_HEADERS = ['x-sluice-csrf', 'x-graphql-yoga-csrf', 'apollo-require-preflight', 'authorization', 'x-api-key'];
const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

export function useCsrfPrevention({ requestHeaders = DEFAULT_HEADERS, extraPaths = [] }: CsrfPreventionOptions = {}): Plugin {
  const refusal = (request: Request) => (isSimple(request) && !requestHeaders.some((name) => request.headers.has(name)) ? csrfError() : null);
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!extraPaths.includes(url.pathname) || request.method === 'OPTIONS') return;
      const error = refusal(request);
      if (error) {
        endResponse(
          new fetchAPI.Response(JSON.stringify({ error: 'invalid_request', error_description: error.message, code: CSRF_HEADER_REQUIRED }), {
            status: httpStatusOf(CSRF_HEADER_REQUIRED),
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }),
        );
      }
    },
    onRequestParse({ request }) {
      const error = refusal(request);
      if (error) throw error;
    },
  };
}

/** A request a browser would send cross-site without a preflight (GET included: it has no content type). */
function isSimple(request: Request): boolean {
  const contentType = request.headers.get('content-type')?.toLowerCase();
  return !contentType || SIMPLE_CONTENT_TYPES.some((type) => contentType.startsWith(type));
}

function csrfError(): GraphQLError {
  return new GraphQLError(
    'This request could have been sent by another site: send it with Content-Type: application/json, or add an x-sluice-csrf header (any value).',
    { extensions: { code: CSRF_HEADER_REQUIRED, http: { status: httpStatusOf(CSRF_HEADER_REQUIRED) } } },
  );
}
