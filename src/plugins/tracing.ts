/**
 * OpenTelemetry spans: one SERVER span per GraphQL operation (HTTP, SSE or graphql-ws), from
 * the moment its context is built until its result (or last event) is out, and a child span
 * for every resolver that waits on something (its result is a promise: the database, a loader,
 * a model server). Synchronous resolvers, which only read a loaded object, get no span: a list
 * of a hundred rows would otherwise cost hundreds of spans that say nothing.
 *
 * The trace id is on the context as `traceId` and bound into the operation's logger, so every
 * log line of the operation carries it. Without a tracer (no OTEL_EXPORTER_OTLP_ENDPOINT) the
 * plugin only sets `traceId: null`: an id that names no trace anywhere would mislead, and the
 * request id already correlates logs, audit events and what a client reports.
 *
 * Why not @envelop/opentelemetry: it records every resolver's arguments as span attributes (a
 * `logIn` password would leave for the collector), leaves a failed resolver's span open, and
 * starts its span at execution, after authentication, so the trace id could not be on the
 * context or in the logs of the whole operation. Spans here carry no argument, variable or
 * document text: only names, types, paths and error codes.
 *
 * An incoming W3C `traceparent` header continues the caller's trace.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, getOperationAST, type GraphQLError, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { RequestContext } from './context.js';

export interface TracingOptions {
  /** Where spans go; undefined: tracing is off and `traceId` is null. @default undefined */
  tracer?: Tracer;
}

interface OperationTrace {
  span: Span;
  /** The operation span's context: parent of its resolver spans. */
  context: Context;
  ended: boolean;
}

const propagator = new W3CTraceContextPropagator();
const headerGetter = { keys: (headers: Headers) => [...headers.keys()], get: (headers: Headers, key: string) => headers.get(key) ?? undefined };

export function useTracing({ tracer }: TracingOptions = {}): Plugin<RequestContext> {
  if (!tracer) {
    return { onContextBuilding: ({ extendContext }) => extendContext({ traceId: null }) };
  }
  const operations = new WeakMap<object, OperationTrace>();
  const wrapped = new WeakSet<GraphQLSchema>();

  const finish = (operation: OperationTrace | undefined, codes: ReadonlySet<string>) => {
    if (!operation || operation.ended) return;
    operation.ended = true;
    if (codes.size > 0) {
      operation.span.setAttribute('graphql.error.codes', [...codes]);
      operation.span.setStatus({ code: SpanStatusCode.ERROR, message: [...codes].join(', ') });
    }
    operation.span.end();
  };
  /** Ends the span after a single result, or after the last of a stream (defer, subscriptions). */
  const finishWith = (operation: OperationTrace, result: unknown) => {
    if (!isAsyncIterable(result)) return finish(operation, codesOf((result as { errors?: readonly GraphQLError[] }).errors));
    const codes = new Set<string>();
    return {
      onNext: ({ result: next }: { result: { errors?: readonly GraphQLError[] } }) => codesOf(next.errors).forEach((code) => codes.add(code)),
      onEnd: () => finish(operation, codes),
    };
  };

  /** Resolvers that return a promise get a span, started when the resolver was called. */
  const traced = (resolve: GraphQLFieldResolver<unknown, unknown>): GraphQLFieldResolver<unknown, unknown> =>
    function tracedResolver(source, args, contextValue, info) {
      const operation = operations.get(contextValue as object);
      if (!operation) return resolve(source, args, contextValue, info);
      const startTime = performance.timeOrigin + performance.now();
      const result = resolve(source, args, contextValue, info);
      if (!(result instanceof Promise)) return result;
      const span = tracer.startSpan(
        `${info.parentType.name}.${info.fieldName}`,
        {
          startTime,
          attributes: {
            'graphql.field.name': info.fieldName,
            'graphql.field.type': String(info.returnType),
            'graphql.field.path': pathOf(info.path),
          },
        },
        operation.context,
      );
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
          span.end();
          throw error;
        },
      );
    };

  return {
    onPluginInit({ registerContextErrorHandler }) {
      // Authentication or a rate limit refused the operation while its context was built.
      registerContextErrorHandler(({ context, error }) => finish(operations.get(context), codesOf([error as GraphQLError])));
    },
    onSchemaChange({ schema, replaceSchema }) {
      // A copy with wrapped resolvers: the shared schema module is never mutated.
      if (wrapped.has(schema)) return;
      const copy = mapSchema(schema, {
        [MapperKind.OBJECT_FIELD]: (field) => ({ ...field, resolve: traced(field.resolve ?? defaultFieldResolver) }),
      });
      wrapped.add(copy);
      replaceSchema(copy);
    },
    onContextBuilding({ context, extendContext }) {
      const request = (context as { request?: Request }).request;
      const parent = request ? propagator.extract(ROOT_CONTEXT, request.headers, headerGetter) : ROOT_CONTEXT;
      const span = tracer.startSpan(
        'graphql',
        { kind: SpanKind.SERVER, attributes: { 'sluice.request_id': context.requestId, 'sluice.transport': request ? 'http' : 'ws' } },
        parent,
      );
      operations.set(context, { span, context: trace.setSpan(parent, span), ended: false });
      const traceId = span.spanContext().traceId;
      extendContext({ traceId, logger: context.logger.child({ traceId }) });
    },
    onExecute({ args }) {
      const operation = operations.get(args.contextValue as object);
      if (!operation) return;
      name(operation.span, args.document, args.operationName);
      return { onExecuteDone: ({ result }) => finishWith(operation, result) };
    },
    onSubscribe({ args }) {
      const operation = operations.get(args.contextValue as object);
      if (!operation) return;
      name(operation.span, args.document, args.operationName);
      return {
        onSubscribeError: ({ error }) => finish(operation, codesOf([error as GraphQLError])),
        onSubscribeResult: ({ result }) => finishWith(operation, result),
      };
    },
  };

  function name(span: Span, document: Parameters<typeof getOperationAST>[0], operationName?: string | null) {
    const operation = getOperationAST(document, operationName ?? undefined);
    if (!operation) return;
    span.updateName(operation.name ? `${operation.operation} ${operation.name.value}` : operation.operation);
    span.setAttribute('graphql.operation.type', operation.operation);
    if (operation.name) span.setAttribute('graphql.operation.name', operation.name.value);
  }
}

function pathOf(path: { prev: unknown; key: string | number } | undefined): string {
  const keys: (string | number)[] = [];
  for (let at = path; at; at = at.prev as typeof path) keys.unshift(at.key);
  return keys.join('.');
}

/** The distinct `extensions.code`s of `errors` (uncoded ones count as INTERNAL). */
export function codesOf(errors: readonly { extensions?: Record<string, unknown> }[] | undefined): Set<string> {
  return new Set((errors ?? []).map((error) => (typeof error.extensions?.code === 'string' ? error.extensions.code : 'INTERNAL')));
}
