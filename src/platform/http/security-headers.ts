/**
 * Security headers on every HTTP response Sluice writes: GraphQL, SSE, the REST login, health,
 * metrics, GraphiQL, and the refusals written before Yoga runs (body limits). Set on the node
 * response before the next handler runs, so no path can forget them.
 *
 * - `X-Content-Type-Options: nosniff`: a JSON error is never sniffed into HTML.
 * - `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: nothing of Sluice in a frame.
 * - `Referrer-Policy: no-referrer`: URLs (which may carry a query) never leak onward.
 * - `Content-Security-Policy`: the API answers data, never a page, so `default-src 'none'`;
 *   GraphiQL (development) gets a policy of its own: its files from this server (graphiql.ts),
 *   no inline script, no other host. The console (src/console/) gets one that allows only its
 *   own files and connections to this server.
 * - `Strict-Transport-Security` in production (browsers ignore it over plain HTTP, so a TLS
 *   terminator in front carries it through).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export interface SecurityHeaderOptions {
  /** Send HSTS (production). @default false */
  hsts?: boolean;
  /** Whether Sluice serves GraphiQL (its page gets GRAPHIQL_POLICY). @default false */
  graphiql?: boolean;
  /** Where GraphiQL is served. @default '/graphql' */
  graphqlEndpoint?: string;
  /** Where GraphiQL's files are served (graphiql.ts's GRAPHIQL_ASSETS_PATH). @default '/graphiql' */
  graphiqlAssetsPath?: string;
  /** Where the console's page and files are served (console/serve.ts's CONSOLE_PATH). */
  consolePath: string;
}

const API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/**
 * The console's scripts and styles are files of its own ('self', no inline code); it talks to
 * /graphql over fetch and graphql-ws. connect-src 'self' covers the page's own host's ws: and
 * wss: (CSP Level 3; Chromium, Firefox, Safari 15.4+): it once also listed `ws: wss:`, every
 * host, so a script on this origin could have sent the session's tokens to any WebSocket
 * server. img-src data: is for its empty favicon.
 */
export const CONSOLE_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
/**
 * GraphiQL's page: scripts and stylesheets only from this server (no inline script, no CDN).
 * Styles also allow 'unsafe-inline': the Monaco editor inserts <style> elements at run time
 * (colours, decorations), and has no nonce option. Its language workers start from blob: URLs
 * the bundle makes of its own code. GraphiQL is off in production.
 */
export const GRAPHIQL_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');
const HSTS = 'max-age=31536000; includeSubDomains';

export function withSecurityHeaders(
  { hsts = false, graphiql = false, graphqlEndpoint = '/graphql', graphiqlAssetsPath = '/graphiql', consolePath }: SecurityHeaderOptions,
  next: RequestListener,
): RequestListener {
  const policyFor = (req: IncomingMessage) => {
    if (graphiql && (servesGraphiQL(req, graphqlEndpoint) || under(req, graphiqlAssetsPath))) return GRAPHIQL_POLICY;
    return under(req, consolePath) ? CONSOLE_POLICY : API_POLICY;
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('content-security-policy', policyFor(req));
    if (hsts) res.setHeader('strict-transport-security', HSTS);
    return next(req, res);
  };
}

/** Yoga's rule (shouldRenderGraphiQL) for the GraphiQL page: a browser GET of the endpoint. */
function servesGraphiQL(req: IncomingMessage, endpoint: string): boolean {
  if (req.method !== 'GET' || !req.headers.accept?.includes('text/html')) return false;
  const path = (req.url ?? '').split('?')[0];
  return path === endpoint || path === `${endpoint}/`;
}

/** The path itself or anything below it (not a path that only starts like it). */
function under(req: IncomingMessage, prefix: string): boolean {
  const path = (req.url ?? '').split('?')[0] ?? '';
  return path === prefix || path.startsWith(`${prefix}/`);
}
