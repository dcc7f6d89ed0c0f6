/**
 * Prometheus metrics (prom-client), recorded per GraphQL operation on both transports and
 * served at `/metrics` in the text exposition format:
 *
 * - `sluice_graphql_operations_total{operation_type, outcome}`: every operation, `outcome`
 *   `ok` or `error` (refused at parse, validation or authentication counts as `error`; an
 *   operation that could not be parsed has `operation_type="unknown"`);
 * - `sluice_graphql_errors_total{code}`: every error sent, by `extensions.code`;
 * - `sluice_graphql_operation_duration_seconds{operation_type}`: queries and mutations, from
 *   context building to result (subscriptions last as long as the client wants: not timed);
 * - `sluice_graphql_active_subscriptions{transport}`: live subscriptions, `ws` or `sse`;
 * - `sluice_ingestion_queue_jobs{state}`: the job queue (see platform/queue/queue-depth.ts), read on scrape;
 * - `sluice_db_statements_total`: SQL statements sent through the application's connection
 *   pool: requests' own (BEGIN and COMMIT included), the audit writer's batched inserts and
 *   an inline worker's ingestion (same ORM), not the job queue's pool; its rate over the
 *   operations' is the statements per request while nothing is being ingested;
 * - `sluice_model_health{tenant_id, model_id, status}` (1 for the status the last check found,
 *   0 for the others), `sluice_model_check_latency_seconds{tenant_id, model_id}`,
 *   `sluice_model_last_check_timestamp_seconds{tenant_id, model_id}` and
 *   `sluice_endpoint_health{tenant_id, endpoint_id, status}`: the health checks
 *   (domains/model-health/), read on scrape;
 * - Node's process metrics (CPU, memory, event-loop lag, GC), prom-client's defaults.
 *
 * Each server has its own registry: nothing is global, so tests may run several servers.
 * Labels never carry tenant, user or operation names: their number stays bounded. The health
 * series are the one exception to "no tenant": they carry ids (never names, addresses or
 * errors), one series per checked model or published endpoint, as an operator needs to tell
 * which one is down.
 *
 * Access: with a token, `/metrics` wants `Authorization: Bearer <token>` (401 otherwise).
 * Without one it is open, except that production then serves no metrics at all (404): the
 * numbers say how busy the service is and which errors it returns, not for the internet.
 */
import { timingSafeEqual } from 'node:crypto';
import { getOperationAST, type DocumentNode, type GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueDepth } from '../platform/queue/queue-depth.js';
import { HEALTH_STATUSES } from '../domains/model-health/health-rules.js';
import type { HealthSnapshot } from '../domains/model-health/health-readings.js';
import { codesOf } from './tracing.js';

export interface MetricsOptions {
  /** Bearer token scrapes must send; undefined: no token asked. @default undefined */
  token?: string;
  /** Serve `/metrics` without a token (production: false). @default true */
  openWithoutToken?: boolean;
  /** The job queue's size, read on scrape. @default undefined (no queue metric) */
  queueDepth?: QueueDepth;
  /** @default '/metrics' */
  endpoint?: string;
  /** Shared subscription readers running now (one per tenant and job, dataset or audit trail). */
  subscriptionTopics?: () => number;
  /** Registers a callback to be called for each SQL statement the application sends. */
  onStatement?: (count: () => void) => void;
  /** The model health checks' findings, read on scrape. @default undefined (no health metrics) */
  modelHealth?: { read(): Promise<HealthSnapshot | undefined> };
}

type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

export function useMetrics({ token, openWithoutToken = true, queueDepth, endpoint = '/metrics', subscriptionTopics, onStatement, modelHealth }: MetricsOptions = {}): Plugin {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const operations = new Counter({
    name: 'sluice_graphql_operations_total',
    help: 'GraphQL operations by type and outcome',
    labelNames: ['operation_type', 'outcome'],
    registers: [registry],
  });
  const errors = new Counter({ name: 'sluice_graphql_errors_total', help: 'GraphQL errors sent, by code', labelNames: ['code'], registers: [registry] });
  const duration = new Histogram({
    name: 'sluice_graphql_operation_duration_seconds',
    help: 'Time from context building to result, queries and mutations',
    labelNames: ['operation_type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const subscriptions = new Gauge({
    name: 'sluice_graphql_active_subscriptions',
    help: 'Subscriptions currently streaming',
    labelNames: ['transport'],
    registers: [registry],
  });
  if (subscriptionTopics) {
    new Gauge({
      name: 'sluice_subscription_topics',
      help: 'Shared subscription readers running: one per tenant and job, dataset or audit trail, however many listen',
      registers: [registry],
      collect() {
        this.set(subscriptionTopics());
      },
    });
  }
  if (onStatement) {
    const statements = new Counter({ name: 'sluice_db_statements_total', help: 'SQL statements sent through the application pool', registers: [registry] });
    onStatement(() => statements.inc());
  }
  if (queueDepth) {
    new Gauge({
      name: 'sluice_ingestion_queue_jobs',
      help: 'Ingestion jobs in the queue: waiting, running, or failed for good',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const depth = await queueDepth.read();
        if (!depth) return; // the queue could not be read: leave the last values
        for (const [state, count] of Object.entries(depth)) this.set({ state }, count);
      },
    });
  }

  if (modelHealth) healthGauges(registry, modelHealth);

  const started = new WeakMap<object, number>();
  const typeOf = new WeakMap<object, OperationType>();
  const record = (type: OperationType, errorList: readonly GraphQLError[] | undefined) => {
    const codes = codesOf(errorList);
    operations.inc({ operation_type: type, outcome: codes.size > 0 ? 'error' : 'ok' });
    for (const error of errorList ?? []) errors.inc({ code: [...codesOf([error])][0]! });
  };
  const countStreamErrors = (next: { errors?: readonly GraphQLError[] }) => {
    for (const error of next.errors ?? []) errors.inc({ code: [...codesOf([error])][0]! });
  };

  return {
    onPluginInit({ registerContextErrorHandler }) {
      registerContextErrorHandler(({ context, error }) => record(typeOf.get(context) ?? 'unknown', [error as GraphQLError]));
    },
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      const text = (status: number, body: string, headers: Record<string, string> = {}) =>
        endResponse(new fetchAPI.Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } }));
      if (!token && !openWithoutToken) return text(404, 'Not found: set SLUICE_METRICS_TOKEN to serve metrics in production\n');
      if (token && !bearerMatches(request.headers.get('authorization'), token)) {
        return text(401, 'Send Authorization: Bearer <SLUICE_METRICS_TOKEN>\n', { 'www-authenticate': 'Bearer' });
      }
      return text(200, await registry.metrics(), { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    },
    onParse({ context }) {
      return ({ result }) => {
        // Syntax errors get their code (Yoga's GRAPHQL_PARSE_FAILED) only later, when the response is made.
        if (result instanceof Error) record('unknown', [{ extensions: { code: 'GRAPHQL_PARSE_FAILED', ...(result as GraphQLError).extensions } } as unknown as GraphQLError]);
        else if (result) typeOf.set(context, operationType(result, (context as { params?: { operationName?: string } }).params?.operationName));
      };
    },
    onValidate({ context }) {
      return ({ result }) => {
        if (result.length > 0) record(typeOf.get(context) ?? 'unknown', result as readonly GraphQLError[]);
      };
    },
    onContextBuilding({ context }) {
      started.set(context, performance.now());
    },
    onExecute({ args }) {
      const context = args.contextValue as object;
      const type = operationType(args.document, args.operationName);
      return {
        onExecuteDone: ({ result }) => {
          if (!isAsyncIterable(result)) {
            record(type, result.errors);
            const start = started.get(context);
            if (start !== undefined) duration.observe({ operation_type: type }, (performance.now() - start) / 1000);
            return;
          }
          // @defer / @stream: the operation counts once; errors as they are sent.
          operations.inc({ operation_type: type, outcome: 'ok' });
          return { onNext: ({ result: next }) => countStreamErrors(next) };
        },
      };
    },
    onSubscribe({ args }) {
      const transport = (args.contextValue as { request?: Request }).request ? 'sse' : 'ws';
      return {
        onSubscribeError: ({ error }) => record('subscription', [error as GraphQLError]),
        onSubscribeResult: ({ result }) => {
          if (!isAsyncIterable(result)) return record('subscription', result.errors);
          operations.inc({ operation_type: 'subscription', outcome: 'ok' });
          subscriptions.inc({ transport });
          return { onNext: ({ result: next }) => countStreamErrors(next), onEnd: () => subscriptions.dec({ transport }) };
        },
      };
    },
  };
}

/** The health checks' gauges: reset on each scrape, so a model no longer checked drops out. */
function healthGauges(registry: Registry, source: { read(): Promise<HealthSnapshot | undefined> }): void {
  // The four gauges of one scrape share one reading: the reader caches it (health-readings.ts).
  const snapshot = () => source.read();
  new Gauge({
    name: 'sluice_model_health',
    help: 'Model health by the last check: 1 for its status, 0 for the others',
    labelNames: ['tenant_id', 'model_id', 'status'],
    registers: [registry],
    async collect() {
      const health = await snapshot();
      if (!health) return;
      this.reset();
      for (const model of health.models) {
        for (const status of HEALTH_STATUSES) this.set({ tenant_id: model.tenantId, model_id: model.modelId, status }, model.status === status ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'sluice_model_check_latency_seconds',
    help: 'How long the last health check of a model took (absent when it failed)',
    labelNames: ['tenant_id', 'model_id'],
    registers: [registry],
    async collect() {
      const health = await snapshot();
      if (!health) return;
      this.reset();
      for (const model of health.models) if (model.latencyMs !== null) this.set({ tenant_id: model.tenantId, model_id: model.modelId }, model.latencyMs / 1000);
    },
  });
  new Gauge({
    name: 'sluice_model_last_check_timestamp_seconds',
    help: 'When a model was last checked (Unix time): alert when it stops moving',
    labelNames: ['tenant_id', 'model_id'],
    registers: [registry],
    async collect() {
      const health = await snapshot();
      if (!health) return;
      this.reset();
      for (const model of health.models) this.set({ tenant_id: model.tenantId, model_id: model.modelId }, model.checkedAt.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'sluice_endpoint_health',
    help: 'Published endpoint health (the worst of its models): 1 for its status, 0 for the others',
    labelNames: ['tenant_id', 'endpoint_id', 'status'],
    registers: [registry],
    async collect() {
      const health = await snapshot();
      if (!health) return;
      this.reset();
      for (const endpoint of health.endpoints) {
        for (const status of HEALTH_STATUSES) this.set({ tenant_id: endpoint.tenantId, endpoint_id: endpoint.endpointId, status }, endpoint.status === status ? 1 : 0);
      }
    },
  });
}

function operationType(document: DocumentNode, operationName?: string | null): OperationType {
  return getOperationAST(document, operationName ?? undefined)?.operation ?? 'unknown';
}

/** Constant-time comparison of the presented bearer token with the configured one. */
function bearerMatches(header: string | null, token: string): boolean {
  const presented = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
