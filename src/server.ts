/**
 * The HTTP server: Yoga on node:http, with graphql-ws on the same port and path (/graphql),
 * SSE subscriptions, /healthz and /readyz, and a graceful shutdown.
 *
 * This file composes the collaborators (tokens, credentials, audit, rate limits, tracing) and
 * the server's parts; the ordered plugin list is server/plugin-list.ts, the graphql-ws wiring
 * server/websocket.ts, the job worker server/job-worker.ts.
 *
 * The server does not own the database: whoever opened the ORM closes it after `close()`.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { createFetch } from '@whatwg-node/fetch';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';
import { AuditLog } from './domains/audit/audit-log.js';
import { systemClock, type Clock } from './domains/clock.js';
import { AccessTokens } from './domains/identity/access-token.js';
import { Authenticator } from './domains/identity/authenticator.js';
import { CredentialStore } from './domains/identity/credential-store.js';
import { IpAllowListCheck } from './domains/tenancy/ip-allow-check.js';
import { querySlotsFor } from './domains/endpoint-queries/query-slots.js';
import { AnswerPlaces } from './domains/endpoint-queries/answers-in-progress.js';
import { ExternalTokenVerifier } from './domains/identity/external-tokens.js';
import { HealthReadings } from './domains/model-health/health-readings.js';
import type { ProgressBus } from './domains/ingestion/progress.js';
import { SecretBox } from './platform/secrets/secret-box.js';
import type { ServiceDependencies } from './domains/service-context.js';
import { hasErrorCode, maskedError, toClientError, withoutOriginalError } from './platform/errors/index.js';
import type { AuditBus, CallCancelBus } from './platform/events/event-bus.js';
import { MULTIPART_OVERHEAD_BYTES } from './platform/http/body-limit.js';
import { graphiqlBundle } from './platform/http/graphiql.js';
import { UploadBudget } from './platform/http/upload-budget.js';
import { UNKNOWN_REQUEST_ID } from './platform/http/request-ids.js';
import { ANY_HOST_WARNING } from './platform/http/allowed-hosts.js';
import { corsPolicy } from './platform/http/cors.js';
import { runShutdownSteps } from './platform/lifecycle/shutdown-steps.js';
import type { Logger } from './platform/logging/logger.js';
import { QueueDepth } from './platform/queue/queue-depth.js';
import { AnonymousQueryLimit } from './platform/rate-limits/anonymous-query-limit.js';
import { TopicReaders } from './platform/subscriptions/topic-readers.js';
import { startTracing } from './platform/telemetry/otel-sdk.js';
import type { GraphQLContext } from './plugins/context.js';
import { useCredentialWatch } from './plugins/credential-watch.js';
import { presentErrorDetails } from './schema/error-details.js';
import { schema } from './schema/index.js';
import { GRAPHQL_PATH, pluginList } from './server/plugin-list.js';
import { serveWebSockets } from './server/websocket.js';
import { drainConnections } from './server/drain-connections.js';
import { WebSocketCaps } from './server/websocket-caps.js';
import { createHttpStack } from './server/http-stack.js';
import { limitStores } from './server/limit-stores.js';
import { yogaLogger } from './server/yoga-logger.js';
import { NO_URL_ENDS_WITH } from './plugins/probes.js';
import { RefusedOperationAudit } from './plugins/refused-operations.js';
import { ProductMetrics } from './platform/telemetry/product-metrics.js';

export interface ServerDependencies {
  config: Config;
  orm: Orm;
  logger: Logger;
  /** Where subscriptions hear about changes (progress); shared with an in-process worker. */
  progress: ProgressBus;
  /** What policies tell time by; the system clock unless a test moves its own. */
  clock?: Clock;
  /** Told when a tenant's audit trail grows (live `auditEvents` subscriptions on any instance). */
  auditFeed?: AuditBus;
  /** Where MCP cancellations travel to the process running the call (any instance, with Redis); absent: this process only. */
  callCancels?: CallCancelBus;
  /** The job queue's database (the owner URL), for the queue-depth metric; absent: no such metric. */
  queueUrl?: string;
  /** The process's metrics, shared with an inline job worker; absent: the server's own. */
  metrics?: ProductMetrics;
}

export interface SluiceServer {
  yoga: YogaServerInstance<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>;
  httpServer: Server;
  /** Starts listening; resolves to the base URL (e.g. http://127.0.0.1:4000). */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Graceful shutdown: stop accepting, complete subscriptions (WebSockets close with 1001),
   * let in-flight requests finish (up to `shutdownTimeoutMs`), then close what is left.
   */
  close(): Promise<void>;
}

export function createServer({ config, orm, logger, progress, clock = systemClock, auditFeed, callCancels, queueUrl, metrics = new ProductMetrics(new Registry()) }: ServerDependencies): SluiceServer {
  const shutdown = new AbortController();
  // Every live subscription listens for shutdown (their number is capped by subscription-limits).
  setMaxListeners(0, shutdown.signal);
  // Aborted when the shutdown timeout cuts what is still in flight; every open consumer request listens.
  const shutdownCut = new AbortController();
  setMaxListeners(0, shutdownCut.signal);
  const production = config.env === 'production';
  const tokens = new AccessTokens(config.secrets.jwtSecret, config.accessTokenTtlSeconds);
  const credentials = new CredentialStore(orm);
  const secrets = new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys);
  // One reader per tenant and topic, however many subscriptions listen (docs/operations.md).
  const topicReaders = new TopicReaders({ onError: (error, topic) => logger.warn({ err: error, topic }, 'a subscription topic could not be read; it tries again') });
  const audit = new AuditLog({ orm, secrets, logger, phoneCountry: config.observability.redaction.phoneCountry, onWritten: (tenantIds) => tenantIds.forEach((tenantId) => auditFeed?.publish(tenantId)) });
  const limits = config.rateLimits;
  const now = () => clock.now().getTime();
  const { buckets, refusalBuckets, addressLimit, attempts, signUps, refusalLog, refusals } = limitStores({ config, secrets, audit, credentials, logger, metrics, now });
  const external = new ExternalTokenVerifier(credentials, { egress: config.egress.privateNetworks, cooldownMs: config.jwksCooldownMs });
  const authenticator = new Authenticator(tokens, credentials, external, refusals);
  // GraphQL operations refused before they ran, over HTTP and graphql-ws: plugins/refused-operations.ts.
  const refusedOperations = new RefusedOperationAudit({ refusals: refusalLog, authenticator, audit, trustProxyHops: limits.trustProxyHops, logger });
  // Waits at most as long as a search may run: by then a slot has freed, or something is stuck.
  const querySlots = querySlotsFor(config.database.poolSize, config.searchTimeoutMs, metrics.registry);
  // Answers in progress, per caller and in all, whichever door asked (answers-in-progress.ts).
  const answersInProgress = new AnswerPlaces(config.answersInProgress, metrics.registry);
  const deps: ServiceDependencies = {
    tokens,
    credentials,
    production,
    ingestion: config.ingestion,
    progress,
    topicReaders,
    secrets,
    // The operator's log hears the egress refusals a model's caller is not told of.
    modelSettings: { ...config.models, log: logger },
    modelHealth: config.modelHealth,
    vectorSearch: config.vectorSearch,
    searchTimeoutMs: config.searchTimeoutMs,
    querySlots,
    answersInProgress,
    egress: config.egress.privateNetworks,
    clock,
    requestLimits: {
      ...(limits.enabled ? { perIp: limits.perIp, perPrincipal: limits.perPrincipal } : {}),
      anonymousPerAddress: { requests: Math.round(limits.anonymousQueries.perSecond * 60), periodSeconds: 60, burst: limits.anonymousQueries.burst },
    },
    audit,
    signUps,
    refusals,
    // A refusal's rows in an endpoint's decision log, under the refusal log's flood limit.
    limitedRefusals: refusalLog,
    meter: metrics,
    anonymousQueries: new AnonymousQueryLimit(refusalBuckets, limits.anonymousQueries),
    auditFeed,
  };
  // One per server: new operations (plugins/ip-allow-list.ts), the consumer routes and the
  // live subscriptions' re-checks share its per-tenant cache.
  const ipAllowList = new IpAllowListCheck();
  // Re-checks of live subscriptions report nothing: a credential revoked meanwhile ends them
  // (the revocation is audited), it is no attempt.
  const credentialWatch = useCredentialWatch({
    authenticator: new Authenticator(tokens, credentials, external),
    ipAllowList,
    recheckMs: config.http.credentialRecheckMs,
    registry: metrics.registry,
  });
  const tracing = startTracing(config.observability);
  const queueDepth = queueUrl ? new QueueDepth(queueUrl, logger) : undefined;
  const modelHealth = queueUrl ? new HealthReadings(queueUrl, logger) : undefined;
  const graphiql = config.http.graphiql ? { title: 'Sluice', subscriptionsProtocol: 'WS' as const } : undefined;
  // GraphiQL from installed packages, no CDN (platform/http/graphiql.ts).
  const graphiqlFiles = graphiql ? graphiqlBundle(graphiql) : undefined;
  // The body limits clients are told about (platform/http/body-limit.ts answers 413 before Yoga reads a byte).
  const bodyLimits = { maxBytes: config.http.maxBodyBytes, maxMultipartBytes: config.ingestion.maxRequestBytes + MULTIPART_OVERHEAD_BYTES };
  const largestBody = Math.max(bodyLimits.maxBytes, bodyLimits.maxMultipartBytes);
  const uploads = new UploadBudget({
    maxBytes: config.ingestion.uploadBytesInFlight,
    maxBytesPerAddress: Math.max(largestBody, Math.floor(config.ingestion.uploadBytesInFlight / 2)),
    trustProxyHops: limits.trustProxyHops,
    stallMs: config.ingestion.uploadStallMs,
    registry: metrics.registry,
  });

  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    // Yoga's health check matches any URL ending in its path: ours matches the path (plugins/probes.ts).
    healthCheckEndpoint: NO_URL_ENDS_WITH,
    landingPage: false,
    graphiql: graphiql ?? false,
    ...(graphiqlFiles ? { renderGraphiQL: () => graphiqlFiles.page } : {}),
    // Yoga's own limit (25 000 000 bytes per body) would refuse uploads the ingestion limits
    // allow, with a code of its own: the node-level limit above is the one that counts, so
    // Yoga's is set to what it already admits. Files are limited by the ingestion service
    // (FILE_TOO_LARGE), which names the file. A form field (`operations`, `map`) gets no more
    // than a plain body: utf8-bodies.ts refuses a larger one with 413 first, and the parser
    // holds no more of it meanwhile.
    maxRequestBodySize: largestBody,
    fetchAPI: createFetch({ formDataLimits: { fieldSize: config.http.maxBodyBytes, fileSize: largestBody } }),
    // An allow-list decided per request (see platform/http/cors.ts: Yoga's own list handling is not one).
    cors: corsPolicy(config.http.corsOrigins, { loopback: config.http.corsLoopback }),
    logging: yogaLogger(logger),
    // The last line of defence for errors outside execution (the error-model plugin handles
    // execution results first, with the request id).
    maskedErrors: {
      maskError: (error) => {
        if (hasErrorCode(error)) return production ? withoutOriginalError(error) : error;
        const coded = error instanceof GraphQLError ? toClientError(error, { presentDetails: presentErrorDetails }) : undefined;
        if (coded) return coded;
        logger.error({ err: error }, 'unexpected error outside execution');
        const asGraphQL = error instanceof GraphQLError ? error : new GraphQLError(String((error as Error)?.message ?? error));
        // The request id plugin names the request in the answer (Yoga gives this hook none).
        return maskedError(asGraphQL, UNKNOWN_REQUEST_ID, !production);
      },
    },
    plugins: pluginList({
      refusedOperations,
      refusedRequests: refusalLog,
      config,
      orm,
      logger,
      deps,
      authenticator,
      audit,
      topicReaders,
      buckets,
      attempts,
      credentialWatch,
      ipAllowList,
      addressLimit,
      tracer: tracing?.tracer,
      queueDepth,
      modelHealth,
      metricsRegistry: metrics.registry,
      shutdownSignal: shutdown.signal,
      shutdownCut: shutdownCut.signal,
      callCancels,
    }),
  });

  const httpServer = createHttpStack({ http: config.http, production, graphiqlFiles, bodyLimits, uploads, scrapeNeedsToken: Boolean(config.observability.metricsToken), yoga });
  // Production without SLUICE_ALLOWED_HOSTS answers any Host (docs/operations.md#security-hardening): said where operators look.
  if (config.http.anyHostByDefault) logger.warn({ setting: 'SLUICE_ALLOWED_HOSTS' }, ANY_HOST_WARNING);
  const caps = new WebSocketCaps({
    perAddress: config.http.webSocketConnectionsPerAddress,
    total: config.http.webSocketConnections,
    trustProxyHops: limits.trustProxyHops,
    registry: metrics.registry,
  });
  const ws = serveWebSockets({
    httpServer,
    yoga,
    http: config.http,
    trustedDocuments: config.trustedDocuments,
    production,
    caps,
    addressLimit,
    trustProxyHops: limits.trustProxyHops,
    logger,
    registry: metrics.registry,
    maxVariableValues: config.operationLimits.maxVariableValues,
    refusedOperations,
  });

  let closing: Promise<void> | undefined;

  return {
    yoga,
    httpServer,
    listen(port = config.http.port, host = config.http.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const address = httpServer.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${shownHost}:${address.port}`);
        });
      });
    },
    close() {
      closing ??= (async () => {
        shutdown.abort();
        // Each step runs whatever became of the others (an unreachable tracing collector must
        // not leave the rate-limit store or the queue connection open).
        await runShutdownSteps(
          logger,
          [
            ['connections', () => drainConnections({ httpServer, webSockets: ws, logger, shutdownTimeoutMs: config.http.shutdownTimeoutMs, cut: shutdownCut })],
            ['credential watch', () => credentialWatch.dispose()],
            ['subscription topics', () => topicReaders.close()],
            // Suppressed refusals get their summary now, then every event of the requests that
            // just finished is written before we stop: the requests the timeout cut record theirs
            // after their connection closed, so the log waits for them (at most AUDIT_SETTLE_MS);
            // if the database is gone by now, the step says so and the others go on.
            ['refused credentials', () => refusalLog.close()],
            ['audit', () => audit.close({ settleMs: AUDIT_SETTLE_MS })],
            ['yoga', () => yoga.dispose()],
            ['tracing', () => tracing?.shutdown()],
            ['queue depth', () => queueDepth?.close()],
            ['model health readings', () => modelHealth?.close()],
            // The refusal log's store is the rate limits' one, or its own when those are off.
            ['rate-limit store', () => refusalBuckets.close()],
          ],
          // The connections' own bound is the shutdown timeout (then they are cut): a little more.
          { timeoutMs: config.http.shutdownTimeoutMs + 5_000 },
        );
      })();
      return closing;
    },
  };
}

/**
 * How long the audit log waits, once the connections are closed, for the events of requests
 * still settling (a cut stream's handler records its event after the cut). Within the
 * shutdown step's own bound (the shutdown timeout + 5 s).
 */
const AUDIT_SETTLE_MS = 3_000;
