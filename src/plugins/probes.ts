/**
 * The liveness and readiness probes, answered at their exact path (a query string allowed).
 * Yoga's own checks match any URL that *ends* in their path, query string included: a GraphQL
 * GET whose last variable ended in "/healthz", a POST to `/graphql?x=/readyz` or a GET of
 * `/v1/x/readyz` got a probe's empty 200 instead of its own answer. Yoga's health check is
 * turned off in server.ts (NO_URL_ENDS_WITH); this plugin runs first among ours, before any
 * limit: a probe is never refused.
 */
import type { Plugin } from 'graphql-yoga';

export const HEALTH_PATH = '/healthz';
export const READINESS_PATH = '/readyz';

/**
 * A value no request URL ends with, for Yoga's `healthCheckEndpoint` (it has no off switch):
 * the URL parser strips a trailing space, and encodes an inner one.
 */
export const NO_URL_ENDS_WITH = ' ';

export function useProbes({ ready }: { ready: () => Promise<boolean> }): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === HEALTH_PATH) return endResponse(new fetchAPI.Response(null, { status: 200 }));
      if (url.pathname !== READINESS_PATH) return;
      // A check that fails is a probe's "not ready", never a server error of the request.
      return ready().then(
        (isReady) => endResponse(new fetchAPI.Response(null, { status: isReady ? 200 : 503 })),
        () => endResponse(new fetchAPI.Response(null, { status: 503 })),
      );
    },
  };
}
