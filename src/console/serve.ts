/**
 * Serves the web console at /console, before Yoga sees the request: the application (app/,
 * built by build.ts on the first request for its files), its page at /console/ and at every
 * in-app path (/console/datasets/…: the router reads the URL), its script and stylesheet under
 * /console/assets/. The first, one-page console that stood at /console/classic/ is retired (the
 * application does all it did): its addresses redirect to the application's datasets view,
 * where its datasets, uploads and jobs now are, so old bookmarks still land somewhere useful.
 *
 * The page holds no secret and grants nothing: everything it does goes through /graphql with
 * the signed-in user's token, under the same plugins as any client. So it needs no auth or
 * CSRF check of its own; its Content-Security-Policy is set in platform/http/security-headers.ts.
 *
 * The page is read once, when the server is created, and the bundle is built in memory: no
 * request path ever reaches the file system, so there is nothing to traverse.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleBundle } from './build.js';

/** Where the console is served. */
export const CONSOLE_PATH = '/console';
/** Where the retired classic page was. */
const CLASSIC_PATH = `${CONSOLE_PATH}/classic`;
const ASSETS_PATH = `${CONSOLE_PATH}/assets`;

interface Asset {
  body: Buffer;
  type: string;
}

const TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

export interface ConsoleOptions {
  /** Where this server serves GraphiQL, or undefined when it does not (production by default). */
  graphiqlPath?: string;
}

export function withConsole(options: ConsoleOptions, next: RequestListener): RequestListener {
  const here = dirname(fileURLToPath(import.meta.url));
  const appPage: Asset = { body: appPageOf(readFileSync(join(here, 'app', 'index.html'), 'utf8'), options), type: TYPES.html };
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return next(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { allow: 'GET, HEAD' });
    // Relative URLs in a page resolve against a directory only when its URL ends with a slash.
    if (path === CONSOLE_PATH) return answer(res, 308, { location: `${path}/` });
    // Permanent: the classic page is not coming back.
    if (path === CLASSIC_PATH || path.startsWith(`${CLASSIC_PATH}/`)) return answer(res, 308, { location: `${CONSOLE_PATH}/datasets` });
    if (path === `${ASSETS_PATH}/app.js` || path === `${ASSETS_PATH}/app.css`) {
      consoleBundle().then(
        ({ script, stylesheet }) => send(req, res, path.endsWith('.js') ? { body: script, type: TYPES.js } : { body: stylesheet, type: TYPES.css }),
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
