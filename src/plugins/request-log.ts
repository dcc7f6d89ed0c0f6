import type { Plugin } from 'graphql-yoga';
import type { OperationDefinitionNode } from 'graphql';
import { givenRequestId } from '../platform/http/request-ids.js';
import type { Logger } from '../platform/logging/logger.js';
import type { AuthContext } from './context.js';

export interface RequestLogOptions {
  logger: Logger;
}

/** What an operation adds to its request's line; REST and MCP routes answer without one. */
interface OperationFacts {
  operation: string;
  tenant: string | undefined;
  /** The operation's trace (plugins/tracing.ts), so the line joins the operation's other lines. */
  traceId: string | undefined;
}

/**
 * One `info` line per HTTP request once its response is ready: method, path, GraphQL
 * operation, status, duration, request id and tenant. Only names go in: the path without its
 * query string (a token may ride there), the operation's name and type, never its variables
 * or a header, so no credential or personal datum reaches the line. A subscription's line is
 * written when its stream opens; WebSocket operations are not HTTP requests and have none.
 */
export function useRequestLog({ logger }: RequestLogOptions): Plugin<Partial<AuthContext>> {
  const started = new WeakMap<Request, number>();
  const facts = new WeakMap<Request, OperationFacts>();
  const record = (context: { request?: Request } & Partial<AuthContext>, operation: OperationDefinitionNode | undefined) => {
    if (!context.request) return;
    facts.set(context.request, {
      operation: `${operation?.operation ?? 'operation'} ${operation?.name?.value ?? '(anonymous)'}`,
      tenant: context.actor?.tenantId ?? undefined,
      traceId: (context as { traceId?: string | null }).traceId ?? undefined,
    });
  };
  return {
    onRequest({ request }) {
      started.set(request, performance.now());
    },
    onExecute({ args }) {
      record(args.contextValue as { request?: Request } & Partial<AuthContext>, operationOf(args.document.definitions, args.operationName));
    },
    onSubscribe({ args }) {
      record(args.contextValue as { request?: Request } & Partial<AuthContext>, operationOf(args.document.definitions, args.operationName));
    },
    onResponse({ request, response }) {
      const start = started.get(request);
      if (start === undefined) return;
      const ms = Math.round((performance.now() - start) * 10) / 10;
      const path = pathOf(request.url);
      const fact = facts.get(request);
      logger.info(
        { method: request.method, path, ...(fact ? { operation: fact.operation } : {}), status: response.status, ms, requestId: givenRequestId(request), tenant: fact?.tenant, ...(fact?.traceId ? { traceId: fact.traceId } : {}) },
        `${request.method} ${path}${fact ? ` ${fact.operation}` : ''} ${response.status} ${ms} ms`,
      );
    },
  };
}

function operationOf(definitions: readonly { kind: string }[], name: string | null | undefined): OperationDefinitionNode | undefined {
  const operations = definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === 'OperationDefinition');
  return name ? operations.find((operation) => operation.name?.value === name) : operations[0];
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '(unparseable)';
  }
}
