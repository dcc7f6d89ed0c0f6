/**
 * Prometheus metrics (prom-client), recorded per GraphQL operation on both transports and
 * served at `/metrics` in the text exposition format. This plugin records:
 *
 * - `sluice_graphql_operations_total{operation_type, outcome}`: every operation, `outcome`
 *   `ok` or `error` (refused at parse, validation or authentication counts as `error`; an
 *   operation that could not be parsed has `operation_type="unknown"`);
 * - `sluice_graphql_root_fields_total{operation_type, field, outcome}`: each root field of an
 *   operation that was executed, by the schema's field name (never the client's operation name
 *   or alias: those are the caller's to invent), `error` when an error sits at or under it;
 * - `sluice_graphql_errors_total{code}`: every error sent, by `extensions.code`;
 * - `sluice_graphql_operation_duration_seconds{operation_type}`: queries and mutations, from
 *   context building to result (subscriptions last as long as the client wants: not timed);
 * - `sluice_graphql_active_subscriptions{transport}`: live subscriptions, `ws` or `sse`;
 * - `sluice_ingestion_queue_jobs{state}`: the job queue (see platform/queue/queue-depth.ts), read on scrape;
 * - `sluice_db_statements_total`: SQL statements sent through the application's connection
 *   pool: requests' own (BEGIN and COMMIT included), the audit writer's batched inserts and
 *   an inline worker's ingestion (same ORM), not the job queue's pool; its rate over the
 *   operations' is the statements per request while nothing is being ingested;
 * - the health checks' gauges (metrics-health.ts), read on scrape;
 * - Node's process metrics (CPU, memory, event-loop lag, GC), prom-client's defaults.
 *
 * The product's own series (endpoint queries, model calls, policy decisions, ingestion volume,
 * refused credentials) are recorded by the domains through platform/telemetry/product-metrics.ts
 * on the same registry. docs/operations.md lists them all.
 *
 * Each server has its own registry: nothing is global, so tests may run several servers.
 * Label values are bounded: types, outcomes, codes and field names come from the code or the
 * schema; the only ids are of rows that exist (endpoints, models, tenants in the health series),
 * never names, addresses or anything a caller types.
 *
 * Access: with a token, `/metrics` wants `Authorization: Bearer <token>` (401 otherwise).
 * Without one it is open, except that production then serves no metrics at all (404): the
 * numbers say how busy the service is and which errors it returns, not for the internet.
 */
import { getOperationAST, type DocumentNode, type GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueDepth } from '../platform/queue/queue-depth.js';
import { scrapeRefusal } from '../platform/telemetry/scrape-access.js';
import type { HealthSnapshot } from '../domains/model-health/health-readings.js';
import { operationOf, rootFieldsOf } from '../graphql/root-fields.js';
import { healthGauges } from './metrics-health.js';
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
  /**
   * The registry to serve, shared with what records the product's series
   * (platform/telemetry/product-metrics.ts). @default a registry of its own
   */
  registry?: Registry;
}

type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

export function useMetrics({ token, openWithoutToken = true, queueDepth, endpoint = '/metrics', subscriptionTopics, onStatement, modelHealth, registry = new Registry() }: MetricsOptions = {}): Plugin {
  collectDefaultMetrics({ register: registry });
  const operations = new Counter({
    name: 'sluice_graphql_operations_total',
    help: 'GraphQL operations by type and outcome',
    labelNames: ['operation_type', 'outcome'],
    registers: [registry],
  });
  const rootFields = new Counter({
    name: 'sluice_graphql_root_fields_total',
    help: 'Root fields of executed GraphQL operations by operation type, field and outcome (error: an error at or under that field)',
    labelNames: ['operation_type', 'field', 'outcome'],
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
  /**
   * Each root field of an operation that passed validation: its name is the schema's, so an
   * attacker's made-up operation names and aliases never become series.
   */
  const recordFields = (type: OperationType, document: DocumentNode, operationName: string | null | undefined, errorList: readonly GraphQLError[] | undefined) => {
    const operation = operationOf(document, operationName);
    if (!operation) return;
    const failed = new Set((errorList ?? []).map((error) => (typeof error.path?.[0] === 'string' ? error.path[0] : '*')));
    for (const field of rootFieldsOf(document, operation)) {
      const key = field.alias?.value ?? field.name.value;
      rootFields.inc({ operation_type: type, field: field.name.value, outcome: failed.has('*') || failed.has(key) ? 'error' : 'ok' });
    }
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
      const refused = scrapeRefusal({ token, openWithoutToken }, request.headers.get('authorization'));
      if (refused) return text(refused.status, refused.body, refused.headers);
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
            recordFields(type, args.document, args.operationName, result.errors);
            const start = started.get(context);
            if (start !== undefined) duration.observe({ operation_type: type }, (performance.now() - start) / 1000);
            return;
          }
          // @defer / @stream: the operation counts once; errors as they are sent.
          operations.inc({ operation_type: type, outcome: 'ok' });
          recordFields(type, args.document, args.operationName, undefined);
          return { onNext: ({ result: next }) => countStreamErrors(next) };
        },
      };
    },
    onSubscribe({ args }) {
      const transport = (args.contextValue as { request?: Request }).request ? 'sse' : 'ws';
      return {
        onSubscribeError: ({ error }) => record('subscription', [error as GraphQLError]),
        onSubscribeResult: ({ result }) => {
          recordFields('subscription', args.document, args.operationName, isAsyncIterable(result) ? undefined : result.errors);
          if (!isAsyncIterable(result)) return record('subscription', result.errors);
          operations.inc({ operation_type: 'subscription', outcome: 'ok' });
          subscriptions.inc({ transport });
          return { onNext: ({ result: next }) => countStreamErrors(next), onEnd: () => subscriptions.dec({ transport }) };
        },
      };
    },
  };
}

function operationType(document: DocumentNode, operationName?: string | null): OperationType {
  return getOperationAST(document, operationName ?? undefined)?.operation ?? 'unknown';
}
