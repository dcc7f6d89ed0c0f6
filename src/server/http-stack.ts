/**
 * The node:http server under Yoga, and the layers a request passes before Yoga reads a byte:
 * slow clients cut (headers and whole-request deadlines, and a write deadline for a client that
 * stops reading), security headers, the Host allow-list, 405 for the probes' other methods,
 * the console's and GraphiQL's static files, the body limits and the upload budget.
 */
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import type { Config } from '../config.js';
import { CONSOLE_PATH, withConsole } from '../console/serve.js';
import { withAllowedHosts } from '../platform/http/allowed-hosts.js';
import { withBodyLimit, type BodyLimits } from '../platform/http/body-limit.js';
import { withGraphiQLAssets, type GraphiQLBundle } from '../platform/http/graphiql.js';
import { withProbeMethods } from '../platform/http/probe-methods.js';
import { withSecurityHeaders } from '../platform/http/security-headers.js';
import type { UploadBudget } from '../platform/http/upload-budget.js';
import { withWriteStallDeadline } from '../platform/http/write-stall.js';
import { HEALTH_PATH, READINESS_PATH } from '../plugins/probes.js';
import { refusalInDoorShape } from '../routes/door-refusals.js';
import { GRAPHQL_PATH } from './plugin-list.js';

export interface HttpStackOptions {
  http: Config['http'];
  production: boolean;
  /** GraphiQL's page and files, when GraphiQL is served. */
  graphiqlFiles: GraphiQLBundle | undefined;
  bodyLimits: BodyLimits;
  uploads: UploadBudget;
  /** SLUICE_METRICS_TOKEN is set: /metrics is guarded by it, which no rebound page knows, and answers any Host. */
  scrapeNeedsToken: boolean;
  /** Yoga, last. */
  yoga: RequestListener;
}

/** The probes and the scrape (plugins/probes.ts, plugins/metrics.ts): GET and HEAD only. */
const PROBE_PATHS = [HEALTH_PATH, READINESS_PATH, '/metrics'] as const;

export function createHttpStack({ http, production, graphiqlFiles, bodyLimits, uploads, scrapeNeedsToken, yoga }: HttpStackOptions): Server {
  // Load balancers probe by IP or by an internal name; scrapers often by a service name.
  const anyHostPaths = [HEALTH_PATH, READINESS_PATH, ...(scrapeNeedsToken ? ['/metrics'] : [])];
  return createHttpServer(
    slowClientTimeouts(http),
    // A client that stops reading is cut too: node:http has no write deadline (write-stall.ts).
    withWriteStallDeadline(
      http.writeStallMs,
      withSecurityHeaders(
        { hsts: production, graphiql: Boolean(graphiqlFiles), consolePath: CONSOLE_PATH },
        // A request sent to a name that is not ours (DNS rebinding) is refused before anything runs.
        withAllowedHosts(
          { allowedHosts: http.allowedHosts, anyHostPaths },
          // The probes and the scrape answer GET and HEAD only (405 otherwise), before Yoga.
          withProbeMethods(
            PROBE_PATHS,
            // The console's and GraphiQL's static files are answered before Yoga and its plugins.
            withConsole(
              { graphiqlPath: graphiqlFiles ? GRAPHQL_PATH : undefined },
              withGraphiQLAssets(graphiqlFiles, withBodyLimit(bodyLimits, uploads.guard(yoga), refusalInDoorShape)),
            ),
          ),
          refusalInDoorShape,
        ),
      ),
    ),
  );
}

/**
 * Slow clients are cut (docs/operations.md): headers must arrive within `headersTimeoutMs` and
 * the whole request (an upload's body included) within `requestTimeoutMs`. node:http checks
 * these deadlines only every `connectionsCheckingInterval` (30 s by default): checking every
 * quarter of the header deadline cuts a trickling client within 1.25 × the deadline.
 */
function slowClientTimeouts(http: Config['http']) {
  return {
    headersTimeout: http.headersTimeoutMs,
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(5_000, Math.max(50, Math.floor(http.headersTimeoutMs / 4))),
  };
}
