/**
 * The envelop / Yoga plugins of one server, in the order they run. Order matters: a request
 * is identified (request id, client address) and limited per address before anything reads
 * its body or credential; the error model comes before tracing and metrics so spans and
 * metrics see the codes clients get; auth runs before anything a subscription holds is made;
 * the request scope comes before what needs the actor's services (audit, allow-list,
 * per-principal limits). Each plugin's own file says what it does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { useDeferStream } from '@graphql-yoga/plugin-defer-stream';
import type { Tracer } from '@opentelemetry/api';
import type { YogaServerOptions } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { Orm } from '../db/orm.js';
import { sharedReadiness } from '../db/readiness.js';
import type { AuditLog } from '../domains/audit/audit-log.js';
import type { Authenticator } from '../domains/identity/authenticator.js';
import type { HealthReadings } from '../domains/model-health/health-readings.js';
import type { ServiceDependencies } from '../domains/service-context.js';
import type { Logger } from '../platform/logging/logger.js';
import type { QueueDepth } from '../platform/queue/queue-depth.js';
import type { AttemptLimits } from '../platform/rate-limits/attempt-buckets.js';
import type { BucketStore } from '../platform/rate-limits/token-bucket.js';
import type { TopicReaders } from '../platform/subscriptions/topic-readers.js';
import { useAttemptLimits } from '../plugins/attempt-limits.js';
import { useAudit } from '../plugins/audit.js';
import { useAuth } from '../plugins/auth.js';
import { useClientIp } from '../plugins/client-ip.js';
import type { GraphQLContext } from '../plugins/context.js';
import type { useCredentialWatch } from '../plugins/credential-watch.js';
import { useCsrfPrevention } from '../plugins/csrf-prevention.js';
import { useErrorModel } from '../plugins/error-model.js';
import { useIpAllowList } from '../plugins/ip-allow-list.js';
import { useLoopRefusal } from '../plugins/loop-refusal.js';
import { useCarriedAddressRefusals, useIpRateLimit, type AddressLimit } from '../plugins/ip-rate-limit.js';
import { AddressRefusalSampler } from '../platform/rate-limits/sampled-address-refusals.js';
import type { CodedError } from '../platform/errors/index.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import { doorRefusal, refusalInDoorShape } from '../routes/door-refusals.js';
import { useMetrics } from '../plugins/metrics.js';
import { useProbes } from '../plugins/probes.js';
import { useUnstorableTextRefusal } from '../plugins/unstorable-text-refusal.js';
import { useOperationLimits } from '../plugins/operation-limits.js';
import type { RefusedOperationAudit } from '../plugins/refused-operations.js';
import type { LimitedRefusals, RefusedRequests, RefusedSignIns } from '../domains/identity/refused-credentials.js';
import { usePrincipalRateLimit } from '../plugins/principal-rate-limit.js';
import { useRequestId } from '../plugins/request-id.js';
import { useRequestLog } from '../plugins/request-log.js';
import { withRequestHookGuard } from '../plugins/request-hook-guard.js';
import { useRequestScope } from '../plugins/request-scope.js';
import { useSubscriptionLimits } from '../plugins/subscription-limits.js';
import { useSubscriptionShutdown } from '../plugins/subscription-shutdown.js';
import { useTracing } from '../plugins/tracing.js';
import { useTrustedDocuments } from '../plugins/trusted-documents.js';
import { useUtf8Bodies } from '../plugins/utf8-bodies.js';
import { useVariableLimits } from '../plugins/variable-limits.js';
import { useAuditExport } from '../routes/audit-export.js';
import { useCatalogRoute } from '../routes/catalog.js';
import { ConsumerDoor } from '../routes/consumer-door.js';
import { QUERY_PATH, useRestQuery } from '../routes/endpoint-query.js';
import { useOpenApiDocument } from '../routes/openapi/serve.js';
import { OPENAI_CHAT_PATH, useOpenAIChat } from '../routes/openai-chat.js';
import { OPENAI_MODELS_PATH, useOpenAIModels } from '../routes/openai-models.js';
import { useOpenAIUnknownPaths } from '../routes/openai-unknown-paths.js';
import { ENDPOINT_PATH as MCP_ENDPOINT_PATH, useMcp } from '../routes/mcp.js';
import type { IpAllowListCheck } from '../domains/tenancy/ip-allow-check.js';
import { PrincipalLimit } from '../platform/rate-limits/principal-limit.js';
import { REST_LOGIN_PATH, useRestLogin } from '../routes/auth-login.js';
import { CREDENTIAL_PREFIX, hashToken, looksLike } from '../platform/secrets/opaque-tokens.js';
import { presentErrorDetails } from '../schema/error-details.js';
import type { Registry } from 'prom-client';
import type { CallCancelBus } from '../platform/events/event-bus.js';

type YogaPlugins = NonNullable<YogaServerOptions<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>['plugins']>;

/** What the plugins are built from: server.ts makes each once per server. */
export interface PluginCollaborators {
  config: Config;
  orm: Orm;
  logger: Logger;
  deps: ServiceDependencies;
  authenticator: Authenticator;
  audit: AuditLog;
  topicReaders: TopicReaders;
  /** The rate limits' bucket store; undefined when rate limits are off (RATE_LIMITS=off). */
  buckets: BucketStore | undefined;
  attempts: AttemptLimits | undefined;
  /** Kept by server.ts, which disposes of it at shutdown. */
  credentialWatch: ReturnType<typeof useCredentialWatch>;
  /** The tenants' IP allow-lists, one check (and cache) for new operations and the credential watch's re-checks. */
  ipAllowList: IpAllowListCheck;
  /** The per-address limit (shared with server/websocket.ts); undefined when rate limits are off. */
  addressLimit: AddressLimit | undefined;
  tracer: Tracer | undefined;
  queueDepth: QueueDepth | undefined;
  /** The process's metrics registry (the product's series are on it already), served at /metrics. */
  metricsRegistry?: Registry;
  /** The model health checks' findings, for the metrics scrape. */
  modelHealth: HealthReadings | undefined;
  /** Aborted when the server begins to shut down. */
  shutdownSignal: AbortSignal;
  /**
   * Aborted, its reason an UNAVAILABLE error, when the shutdown timeout cuts what is still in
   * flight: the consumer routes end their responses with it (routes/consumer-door.ts).
   */
  shutdownCut: AbortSignal;
  /** MCP cancellations across processes (routes/mcp/in-flight-calls.ts); absent: within this process. */
  callCancels?: CallCancelBus;
  /** The audit of operations refused before they ran (shared with server/websocket.ts). */
  refusedOperations: RefusedOperationAudit;
  /** The refusal log's flood limits, for requests refused before they ran (the REST login's unreadable bodies) and refused sign-ins. */
  refusedRequests: RefusedRequests & RefusedSignIns & LimitedRefusals;
}

export function pluginList({
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
  tracer,
  queueDepth,
  modelHealth,
  metricsRegistry,
  shutdownSignal,
  shutdownCut,
  callCancels,
  refusedOperations,
  refusedRequests,
}: PluginCollaborators): YogaPlugins {
  const production = config.env === 'production';
  const limits = config.rateLimits;
  // One per-principal limit and one allow-list check (server.ts) for GraphQL and the consumer routes alike.
  const principalLimit = buckets
    ? new PrincipalLimit({
        buckets,
        rule: limits.perPrincipal,
        onOverrideError: (error, tenantId) => logger.warn({ err: error, tenantId }, 'could not read the tenant rate-limit settings; using the server default'),
      })
    : undefined;
  // The door the consumer routes (REST, OpenAI-compatible, MCP) open: routes/consumer-door.ts.
  const consumerDoor = new ConsumerDoor({ orm, deps, authenticator, audit, limitedRefusals: refusedRequests, logger, trustProxyHops: limits.trustProxyHops, principalLimit, ipAllowList, credentialWatch, shutdownCut });
  const subscriptionLimits = useSubscriptionLimits({ perConnection: config.http.subscriptionsPerConnection, perPrincipal: config.http.subscriptionsPerPrincipal });
  const databaseReady = sharedReadiness(orm);
  const plugins: YogaPlugins = [
    useProbes({
      // First, before any limit: a probe is never refused. One shared answer a second keeps a
      // flood of probes from costing a query each (db/readiness.ts).
      ready: async () => !shutdownSignal.aborted && (await databaseReady()),
    }),
    useRequestId({ logger }),
    // After the request id (its line names it); first among the rest, so it times all of them.
    useRequestLog({ logger }),
    useClientIp({ trustProxyHops: limits.trustProxyHops }),
    // A model call of this deployment's own that came back to it: refused before it is counted or read.
    useLoopRefusal({ hopMark: config.models.hopMark, responseFor: refusalInDoorShapeOf }),
    // Per address, before the body is read (HTTP) or the credential checked (both transports).
    // Its first refusal per address and minute on a path that asks an endpoint is let on to
    // be recorded in that endpoint's decision log (useCarriedAddressRefusals, the consumer door).
    ...(addressLimit ? [useIpRateLimit({ limit: addressLimit, trustProxyHops: limits.trustProxyHops, asksEndpoint, sampler: new AddressRefusalSampler(), responseFor: refusalInDoorShapeOf })] : []),
    // Simple cross-site requests (forms, GET) must carry a header; before the REST login runs.
    useCsrfPrevention({ extraPaths: [REST_LOGIN_PATH] }),
    ...(config.trustedDocuments ? [useTrustedDocuments({ documents: config.trustedDocuments })] : []),
    useRestLogin({
      orm,
      deps,
      audit,
      refusals: refusedRequests,
      logger,
      trustProxyHops: limits.trustProxyHops,
      checkAttempt: attempts && ((ip, email) => attempts.credentialAttempt('logIn', ip, email)),
    }),
    useErrorModel({ exposeUnexpected: !production, presentDetails: presentErrorDetails }),
    // Request text that is not UTF-8 is refused (400 BAD_REQUEST) before it is parsed.
    useUtf8Bodies({ maxFieldBytes: config.http.maxBodyBytes, maxVariableValues: config.operationLimits.maxVariableValues, maxUploadFiles: config.ingestion.maxFiles }),
    // After the error model, so spans and metrics see the codes clients get.
    useTracing({ tracer }),
    useMetrics({
      token: config.observability.metricsToken,
      openWithoutToken: !production,
      queueDepth,
      modelHealth,
      registry: metricsRegistry,
      subscriptionTopics: () => topicReaders.activeTopics,
      onStatement: (count) => orm.em.getConnection().getKnex().on('query', count),
    }),
    // Sees what the plugins from here to the audit plugin refuse, and what parsing and validation refuse.
    refusedOperations.watch,
    // Before anything walks the variables (the cost model's coercion, the NUL check, execution).
    useVariableLimits({ maxValues: config.operationLimits.maxVariableValues }),
    useOperationLimits({ ...config.operationLimits, maxFilesPerJob: config.ingestion.maxFiles }),
    // NUL in any argument or variable is the caller's mistake, refused before anything runs.
    useUnstorableTextRefusal(),
    ...(config.operationLimits.blockFieldSuggestions ? [blockFieldSuggestionsPlugin()] : []),
    useAuth({ authenticator }),
    // Before anything a subscription holds is made: a refusal costs nothing further.
    subscriptionLimits,
    credentialWatch,
    // The audit trail as JSON Lines (routes/audit-export.ts).
    useAuditExport({ door: consumerDoor, logger }),
    // The catalog of listed endpoints (routes/catalog.ts).
    useCatalogRoute({ door: consumerDoor, logger }),
    // REST query (routes/endpoint-query.ts) and the OpenAPI document of every REST route.
    useRestQuery({ door: consumerDoor, logger, presentDetails: presentErrorDetails }),
    useOpenApiDocument(),
    // OpenAI-compatible chat completions and model list (routes/openai-chat.ts, openai-models.ts).
    useOpenAIChat({ door: consumerDoor, logger }),
    useOpenAIModels({ door: consumerDoor, logger }),
    useOpenAIUnknownPaths(),
    // MCP over Streamable HTTP at /mcp and /mcp/{tenant}/{endpoint} (routes/mcp.ts).
    useMcp({
      door: consumerDoor,
      corsOrigins: config.http.corsOrigins,
      logger,
      presentDetails: presentErrorDetails,
      callCancels,
      shutdownSignal,
      keys: deps.secrets,
    }),
    useRequestScope({ orm, deps, checkQueriesChangeNothing: !production }),
    refusedOperations.reached,
    useAudit({ audit, refusedSignIns: refusedRequests, limitedRefusals: refusedRequests }),
    useIpAllowList(ipAllowList),
    useCarriedAddressRefusals(),
    // Per principal (the tenant's override read through its services) and per sensitive field.
    ...(principalLimit ? [usePrincipalRateLimit({ limit: principalLimit, loadOverride: (context) => context.services.tenancy.rateLimitOverride() })] : []),
    ...(attempts ? [useAttemptLimits({ limits: attempts, invitationEmail: (token) => invitationEmail(deps, token) })] : []),
    useSubscriptionShutdown({ signal: shutdownSignal }),
    // @defer and @stream (incremental delivery over multipart/mixed or SSE).
    useDeferStream(),
  ];
  // Nothing a route throws reaches @whatwg-node/server, which answers with the stack trace.
  const answerUncaught = (url: URL, request: Request, error: CodedError, fetchAPI: { Response: typeof Response }) =>
    doorRefusal(url.pathname, requestIdOf(request), error, fetchAPI);
  return plugins.map((plugin) => withRequestHookGuard(plugin, logger, answerUncaught));
}

/** A refusal before any route ran, in its door's shape (routes/door-refusals.ts), for the plugins that refuse first. */
const refusalInDoorShapeOf = (url: URL, request: Request, error: CodedError, fetchAPI: { Response: typeof Response }) =>
  refusalInDoorShape(url.pathname, requestIdOf(request), error, fetchAPI);

/** Where Yoga serves GraphQL (server.ts's `graphqlEndpoint`): one name for both. */
export const GRAPHQL_PATH = '/graphql';

/** Requests that ask an endpoint: GraphQL POSTs (queryEndpoint), the REST query, OpenAI chat, one endpoint's MCP server. */
function asksEndpoint(url: URL, method: string): boolean {
  if (method !== 'POST') return false;
  const path = url.pathname;
  return path === GRAPHQL_PATH || path === OPENAI_CHAT_PATH || QUERY_PATH.test(path) || MCP_ENDPOINT_PATH.test(path);
}

/** The email an invitation token is for, as acceptInvitation finds it; undefined if none. */
async function invitationEmail(deps: ServiceDependencies, token: string): Promise<string | undefined> {
  if (!looksLike(token, CREDENTIAL_PREFIX.invitation)) return undefined;
  return (await deps.credentials.invitation(hashToken(token)))?.email;
}
