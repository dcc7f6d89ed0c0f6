/**
 * Serves the web console at /console, before Yoga sees the request:
 * - the application (app/, built by build.ts on the first request for its files): its page at
 *   /console/ and at every in-app path (/console/datasets/…: the router reads the URL), its
 *   script and stylesheet under /console/assets/;
 * - the first, one-page console (classic/) at /console/classic/, for the views the application
 *   does not have yet (ingestion, asking an endpoint), with the browser build of graphql-ws
 *   under /console/classic/vendor/graphql-ws/.
 *
 * The page holds no secret and grants nothing: everything it does goes through /graphql with
 * the signed-in user's token, under the same plugins as any client. So it needs no auth or
 * CSRF check of its own; its Content-Security-Policy is set in platform/http/security-headers.ts.
 *
 * Files are read once, when the server is created, into an allow-list keyed by URL path: no
 * request path ever reaches the file system, so there is nothing to traverse.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsoleApp, type ConsoleBundle } from './build.js';

/** Where the console is served. */
export const CONSOLE_PATH = '/console';
const CLASSIC_PATH = `${CONSOLE_PATH}/classic`;
const ASSETS_PATH = `${CONSOLE_PATH}/assets`;

interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface ConsoleOptions {
  /** Where this server serves GraphiQL, or undefined when it does not (production by default). */
  graphiqlPath?: string;
}

export function withConsole(options: ConsoleOptions, next: RequestListener): RequestListener {
  const here = dirname(fileURLToPath(import.meta.url));
  const classic = classicAssets(join(here, 'classic'));
  const appPage: Asset = { body: appPageOf(readFileSync(join(here, 'app', 'index.html'), 'utf8'), options), type: TYPES['.html']! };
  let bundle: Promise<ConsoleBundle> | undefined;
  const built = () => {
    bundle ??= buildConsoleApp().catch((error: unknown) => {
      bundle = undefined; // the next request tries again
      throw error;
    });
    return bundle;
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return next(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { allow: 'GET, HEAD' });
    // Relative URLs in a page resolve against a directory only when its URL ends with a slash.
    if (path === CONSOLE_PATH || path === CLASSIC_PATH) return answer(res, 308, { location: `${path}/` });
    if (path.startsWith(`${CLASSIC_PATH}/`)) {
      const asset = classic.get(path);
      return asset ? send(req, res, asset) : answer(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'Not found\n');
    }
    if (path === `${ASSETS_PATH}/app.js` || path === `${ASSETS_PATH}/app.css`) {
      built().then(
        ({ script, stylesheet }) => send(req, res, path.endsWith('.js') ? { body: script, type: TYPES['.js']! } : { body: stylesheet, type: TYPES['.css']! }),
        (error: Error) => answer(res, 500, { 'content-type': 'text/plain; charset=utf-8' }, `The console could not be built: ${error.message}\n`),
      );
      return;
    }
    // Any other path without a file extension is a view of the application.
    if (!/\.[a-z0-9]+$/i.test(path)) return send(req, res, appPage);
    return answer(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'Not found\n');
  };
}

/**
 * The application's page, telling the application what this server offers that the API does
 * not say: whether GraphiQL is served (its link is shown only then: a link to a page the
 * server refuses would be a dead end). A `<meta>` element, read by the script: no inline code.
 */
function appPageOf(html: string, { graphiqlPath }: ConsoleOptions): Buffer {
  const facts = graphiqlPath ? `<meta name="sluice-graphiql" content="${graphiqlPath.replace(/[&"<>]/g, '')}">\n` : '';
  return Buffer.from(html.replace('</head>', `${facts}</head>`), 'utf8');
}

function send(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': asset.body.length,
    // Files that change with a deploy: revalidate rather than run a stale script.
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

function answer(res: ServerResponse, status: number, headers: Record<string, string>, body = ''): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** URL path → file: the classic page's own .html/.js/.css files, and graphql-ws's browser client. */
function classicAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(`${CLASSIC_PATH}/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  const index = assets.get(`${CLASSIC_PATH}/index.html`);
  if (!index) throw new Error(`console: ${join(dir, 'index.html')} is missing`);
  assets.set(`${CLASSIC_PATH}/`, index);
  for (const [name, body] of graphqlWsClientFiles()) assets.set(`${CLASSIC_PATH}/vendor/graphql-ws/${name}`, { body, type: TYPES['.js']! });
  return assets;
}

/**
 * graphql-ws's ESM client (its package's `browser` export, dist/client.js) and the chunks it
 * imports by relative path; it has no bare imports, so a browser runs it as it is. The chunk
 * names carry a content hash that changes between versions, so they are read from the file.
 */
function graphqlWsClientFiles(): Map<string, Buffer> {
  // The CommonJS entry sits beside the ESM one in dist/.
  const dist = dirname(createRequire(import.meta.url).resolve('graphql-ws/client'));
  const files = new Map<string, Buffer>();
  const pending = ['client.js'];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (files.has(name)) continue;
    const body = readFileSync(join(dist, name));
    files.set(name, body);
    for (const [, imported] of body.toString('utf8').matchAll(/\bfrom\s*['"]\.\/([\w.-]+\.js)['"]/g)) pending.push(imported!);
  }
  return files;
}
