/**
 * Security headers on every HTTP response Sluice writes: GraphQL, SSE, the REST login, health,
 * metrics, GraphiQL, and the refusals written before Yoga runs (body limits). Set on the node
 * response before the next handler runs, so no path can forget them.
 *
 * - `X-Content-Type-Options: nosniff`: a JSON error is never sniffed into HTML.
 * - `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: nothing of Sluice in a frame.
 * - `Referrer-Policy: no-referrer`: URLs (which may carry a query) never leak onward.
 * - `Content-Security-Policy`: the API answers data, never a page, so `default-src 'none'`;
 *   GraphiQL (development) gets a policy of its own that allows exactly its page: the hashes
 *   of its inline scripts and the CDN origin Yoga loads its bundle from. The console
 *   (src/console/) gets one that allows only its own files and connections to this server.
 * - `Strict-Transport-Security` in production (browsers ignore it over plain HTTP, so a TLS
 *   terminator in front carries it through).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { renderGraphiQL, type GraphiQLOptions } from 'graphql-yoga';

export interface SecurityHeaderOptions {
  /** Send HSTS (production). @default false */
  hsts?: boolean;
  /** GraphiQL's options when Sluice serves it, to derive its page's policy; undefined: no GraphiQL. */
  graphiql?: GraphiQLOptions;
  /** Where GraphiQL is served. @default '/graphql' */
  graphqlEndpoint?: string;
  /** Where the console's page and files are served (console/serve.ts's CONSOLE_PATH). */
  consolePath: string;
}

const API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/**
 * The console's scripts and styles are files of its own ('self', no inline code); it talks to
 * /graphql over fetch and graphql-ws. img-src data: is for its empty favicon.
 */
export const CONSOLE_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const HSTS = 'max-age=31536000; includeSubDomains';

export function withSecurityHeaders(
  { hsts = false, graphiql, graphqlEndpoint = '/graphql', consolePath }: SecurityHeaderOptions,
  next: RequestListener,
): RequestListener {
  const graphiqlPolicy = graphiql ? graphiqlContentSecurityPolicy(graphiql) : undefined;
  const policyFor = (req: IncomingMessage) => {
    if (graphiqlPolicy && servesGraphiQL(req, graphqlEndpoint)) return graphiqlPolicy;
    return servesConsole(req, consolePath) ? CONSOLE_POLICY : API_POLICY;
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

function servesConsole(req: IncomingMessage, consolePath: string): boolean {
  const path = (req.url ?? '').split('?')[0] ?? '';
  return path === consolePath || path.startsWith(`${consolePath}/`);
}

/**
 * The policy for the page `renderGraphiQL(options)` returns: its inline scripts by hash (not
 * 'unsafe-inline'), and the external origins the page names (Yoga's CDN, the favicon host).
 * Derived from the page itself, so a Yoga upgrade that moves its CDN keeps working.
 * Styles stay 'unsafe-inline': the editor injects style elements at run time.
 */
export function graphiqlContentSecurityPolicy(options: GraphiQLOptions): string {
  const page = renderGraphiQL(options);
  const hashes = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    ([, body]) => `'sha256-${createHash('sha256').update(body ?? '').digest('base64')}'`,
  );
  const origins = [...new Set([...page.matchAll(/https:\/\/[^/"'\s>]+/g)].map(([origin]) => origin))].join(' ');
  return [
    "default-src 'self'",
    `script-src 'self' ${hashes.join(' ')} ${origins}`,
    `style-src 'self' 'unsafe-inline' ${origins}`,
    `font-src 'self' data: ${origins}`,
    `img-src 'self' data: ${origins}`,
    // The page fetches its editor workers from the CDN and starts them from blob: URLs.
    `connect-src 'self' ws: wss: ${origins}`,
    "worker-src 'self' blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}
