/**
 * Serves the web console (a static page, its scripts and stylesheet) at /console, and the
 * browser build of graphql-ws under /console/vendor/graphql-ws/, before Yoga sees the request.
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
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the console is served. */
export const CONSOLE_PATH = '/console';

interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export function withConsole(next: RequestListener): RequestListener {
  const assets = consoleAssets();
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return next(req, res);
    // The page loads its files by relative URLs: /console must end with a slash for them to resolve.
    if (path === CONSOLE_PATH) return answer(res, 308, { location: `${CONSOLE_PATH}/` });
    const asset = assets.get(path);
    if (!asset) return answer(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'Not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { allow: 'GET, HEAD' });
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': asset.body.length,
      // Small files that change with a deploy: revalidate rather than run a stale script.
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}

function answer(res: ServerResponse, status: number, headers: Record<string, string>, body = ''): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** URL path → file: the console's own .html/.js/.css files, and graphql-ws's browser client. */
function consoleAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const self = fileURLToPath(import.meta.url);
  const here = dirname(self);
  for (const name of readdirSync(here)) {
    const type = TYPES[extname(name)];
    // Compiled (dist/, scripts/compile.js), this server module is a .js beside the assets: never serve it.
    if (name === basename(self)) continue;
    if (type) assets.set(`${CONSOLE_PATH}/${name}`, { body: readFileSync(join(here, name)), type });
  }
  const index = assets.get(`${CONSOLE_PATH}/index.html`);
  if (!index) throw new Error(`console: ${join(here, 'index.html')} is missing`);
  assets.set(`${CONSOLE_PATH}/`, index);
  for (const [name, body] of graphqlWsClientFiles()) assets.set(`${CONSOLE_PATH}/vendor/graphql-ws/${name}`, { body, type: TYPES['.js']! });
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
