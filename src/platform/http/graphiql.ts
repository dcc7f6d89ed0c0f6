/**
 * GraphiQL from the installed `@graphql-yoga/render-graphiql` package, so it works offline and
 * behind a firewall (Yoga's default page loads its bundle from a CDN: offline it stays a blank
 * "Loading…").
 *
 * That package renders one self-contained page: the editor's stylesheet in a <style> element
 * and its whole bundle (workers included) in an inline <script>. Served as it is, its policy
 * would need the hash of an 8 MB script in every response and inline styles. So the page is
 * taken apart once, at start-up: its stylesheet, script and icon become files of this server
 * under GRAPHIQL_ASSETS_PATH (cacheable, and allowed by 'self'), and the page Yoga answers is a
 * small shell that links them: no inline script at all.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

/** Where GraphiQL's stylesheet, script and icon are served. */
export const GRAPHIQL_ASSETS_PATH = '/graphiql';

interface Asset {
  body: Buffer;
  type: string;
}

export interface GraphiQLBundle {
  /** The HTML page (give it to Yoga's `renderGraphiQL`). */
  page: string;
  /** URL path → file. */
  assets: Map<string, Asset>;
}

/** Splits the package's page for `options` into a shell page and its files. */
export function graphiqlBundle(options: GraphiQLOptions): GraphiQLBundle {
  const rendered = renderGraphiQL(options);
  const style = only(rendered, /<style>([\s\S]*?)<\/style>/g, 'style element');
  const script = only(rendered, /<script>([\s\S]*?)<\/script>/g, 'inline script');
  const icon = /<link rel="icon" href="data:([^;,"]+);base64,([^"]+)"/.exec(rendered);
  const assets = new Map<string, Asset>([
    [`${GRAPHIQL_ASSETS_PATH}/graphiql.css`, { body: Buffer.from(style, 'utf8'), type: 'text/css; charset=utf-8' }],
    [`${GRAPHIQL_ASSETS_PATH}/graphiql.js`, { body: Buffer.from(script, 'utf8'), type: 'text/javascript; charset=utf-8' }],
  ]);
  if (icon) assets.set(`${GRAPHIQL_ASSETS_PATH}/favicon.ico`, { body: Buffer.from(icon[2]!, 'base64'), type: icon[1]! });
  const title = escapeHtml(options.title ?? 'GraphiQL');
  // The script renders into #root: `defer` runs it once the document (and #root) is parsed.
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${icon ? `${GRAPHIQL_ASSETS_PATH}/favicon.ico` : 'data:,'}">
<link rel="stylesheet" href="${GRAPHIQL_ASSETS_PATH}/graphiql.css">
<script src="${GRAPHIQL_ASSETS_PATH}/graphiql.js" defer></script>
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
</body>
</html>
`;
  return { page, assets };
}

/** Answers GET/HEAD of GraphiQL's files; every other path goes to `next`. */
export function withGraphiQLAssets(bundle: GraphiQLBundle | undefined, next: RequestListener): RequestListener {
  if (!bundle) return next;
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const asset = bundle.assets.get(path);
    if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) return next(req, res);
    res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}

/** The one match of `pattern` in the package's page; a different page shape fails start-up loudly. */
function only(page: string, pattern: RegExp, what: string): string {
  const matches = [...page.matchAll(pattern)];
  if (matches.length !== 1) throw new Error(`@graphql-yoga/render-graphiql: expected one ${what} in its page, found ${matches.length}`);
  return matches[0]![1]!;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
