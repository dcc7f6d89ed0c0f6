/**
 * The probes (`/healthz`, `/readyz`) and the metrics scrape answer only GET and HEAD: any other
 * method is 405 with `Allow: GET, HEAD`, before Yoga runs. The probes and the metrics plugin
 * look at the path alone, so a PUT, DELETE or TRACE got the
 * full answer (metrics included), which no client of theirs sends and a cache or a proxy may
 * treat differently.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

const ALLOWED = new Set(['GET', 'HEAD']);

/**
 * `next`, except that a request to one of `paths` with another method than GET or HEAD gets
 * 405. A path matches exactly (a query string allowed), as the probes match theirs
 * (plugins/probes.ts): `/v1/x/readyz` is no probe.
 */
export function withProbeMethods(paths: readonly string[], next: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (ALLOWED.has(req.method ?? '') || !paths.includes(path)) return next(req, res);
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('Method not allowed: send GET or HEAD.\n');
  };
}
