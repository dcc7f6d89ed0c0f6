/**
 * The probes (`/healthz`, `/readyz`) and the metrics scrape answer only GET and HEAD: any other
 * method is 405 with `Allow: GET, HEAD`, before Yoga runs. Yoga's own health check and the
 * readiness and metrics plugins look at the path alone, so a PUT, DELETE or TRACE got the
 * full answer (metrics included), which no client of theirs sends and a cache or a proxy may
 * treat differently.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

const ALLOWED = new Set(['GET', 'HEAD']);

/**
 * `next`, except that a request to one of `paths` with another method than GET or HEAD gets
 * 405. A path matches as Yoga's health and readiness checks match theirs: exactly, or as the
 * end of the request's path.
 */
export function withProbeMethods(paths: readonly string[], next: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (ALLOWED.has(req.method ?? '') || !paths.some((probe) => path === probe || path.endsWith(probe))) return next(req, res);
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('Method not allowed: send GET or HEAD.\n');
  };
}
