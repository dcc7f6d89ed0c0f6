import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { AuthContext, ScopeContext, StandingContext } from './context.js';
import type { Orm } from '../db/orm.js';
import { TenantScope } from '../db/tenant-scope.js';
import type { Actor } from '../domains/actor.js';
import type { RequestFacts, ServiceDependencies } from '../domains/service-context.js';
import { createServices } from '../domains/services.js';
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { operationOf, rootFieldsOf } from '../graphql/root-fields.js';
import { codedErrorToGraphQL, ValidationError } from '../platform/errors/index.js';

export interface RequestScopeOptions {
  orm: Orm;
  deps: ServiceDependencies;
  /**
   * Outside production: fail a query that changed a loaded entity. Its READ ONLY commit skips
   * the flush, so the change would otherwise be dropped without a word; finding it costs the
   * change-set computation the skipped flush saves.
   */
  checkQueriesChangeNothing?: boolean;
}

/**
 * Opens the operation's tenant scope (src/db/tenant-scope.ts) for the actor, with the services
 * built around it, and runs the operation in it:
 *  - a query or mutation in one transaction around execution (READ ONLY for a query), which
 *    commits when execution ends, field errors included; the scope ends with the response.
 *    An operation whose every root field is marked `extensions: { ownTransactions: true }`
 *    (queryEndpoint: its service opens exactly the transactions it needs, in the publisher's
 *    tenant) runs without one: BEGIN, the tenant binding and COMMIT would be three statements
 *    for nothing;
 *  - a subscription without a transaction held open: its reads take short transactions of
 *    their own (`scope.read`), and its scope ends when the subscription does.
 */
export function useRequestScope({ orm, deps, checkQueriesChangeNothing = false }: RequestScopeOptions): Plugin<AuthContext & ScopeContext> {
  return {
    onContextBuilding({ context, extendContext }) {
      extendContext(openOperationScope({ orm, deps }, context.actor, requestFactsOf(context, deps.secrets)));
    },
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        const { scope } = args.contextValue as ScopeContext;
        const operation = operationOf(args.document, args.operationName);
        const needs = operation ? transactionNeeds(args.schema, args.document, operation) : { kind: 'operation' as const };
        if (needs.kind === 'mixed') {
          scope.close();
          return { errors: [codedErrorToGraphQL(mixedRefusal(needs.own, needs.others))] };
        }
        if (needs.kind === 'own') {
          let ownResult;
          try {
            ownResult = await executeFn(args);
          } catch (error) {
            scope.close();
            throw error;
          }
          if (isAsyncIterable(ownResult)) return closeWhenDone(scope, ownResult);
          scope.close();
          return ownResult;
        }
        const readOnly = operation?.operation === 'query';
        await scope.begin({ readOnly, checkChanges: checkQueriesChangeNothing });
        let result;
        try {
          result = await executeFn(args);
        } catch (error) {
          await scope.rollback();
          scope.close();
          throw error;
        }
        if (isAsyncIterable(result)) return commitWhenDone(scope, result);
        try {
          await scope.commit();
        } finally {
          scope.close();
        }
        return result;
      });
    },
    onSubscribe({ args }) {
      const { scope } = args.contextValue as ScopeContext;
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) return scope.close();
          return { onEnd: () => scope.close() };
        },
        onSubscribeError: () => scope.close(),
      };
    },
  };
}

/**
 * What an operation's context gets from its scope: the scope, its unit of work (for plugins)
 * and the services built around it. Tests that execute against the schema directly build
 * their context with this too.
 */
export function openOperationScope({ orm, deps }: Pick<RequestScopeOptions, 'orm' | 'deps'>, actor: Actor, request?: RequestFacts): ScopeContext {
  const scope = TenantScope.open(orm, actor);
  return { scope, em: scope.em, services: createServices({ actor, scope, deps, request }) };
}

function requestFactsOf(context: object, secrets: ServiceDependencies['secrets']): RequestFacts {
  const query = (context as { params?: { query?: unknown } }).params?.query;
  const standing = (context as Partial<StandingContext>).standing;
  return {
    operationHash: typeof query === 'string' ? secrets.documentDigest(query) : null,
    requestId: (context as { requestId?: string }).requestId ?? null,
    traceId: (context as { traceId?: string | null }).traceId ?? null,
    ip: (context as { clientIp?: string }).clientIp ?? null,
    userAgent: (context as { request?: Request }).request?.headers.get('user-agent') ?? null,
    // HTTP: the request's own; graphql-ws: the operation's, aborted by its complete or the socket's close (server/websocket.ts).
    signal: (context as { signal?: AbortSignal }).signal ?? (context as { request?: Request }).request?.signal,
    standing: standing && (() => standing.held()),
  };
}

/**
 * Whether every root field of the operation opens its own transactions (`own`, see above),
 * none does (`operation`), or both kinds are asked together (`mixed`, refused). `__typename`
 * needs neither. A mixed operation would hold its transaction's connection while the other
 * fields wait: for a model server (testModel), or for the caller's share of the pool
 * (queryEndpoint, endpoint-queries/query-slots.ts), so that a tenant's few mixed operations
 * held every connection (review of 4616b86).
 */
function transactionNeeds(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): { kind: 'own' | 'operation' } | { kind: 'mixed'; own: string[]; others: string[] } {
  const fields = schema.getRootType(operation.operation)?.getFields();
  const root = rootFieldsOf(document, operation).map((field) => field.name.value).filter((name) => !name.startsWith('__'));
  const own = root.filter((name) => fields?.[name]?.extensions?.ownTransactions === true);
  if (own.length === 0) return { kind: 'operation' };
  if (own.length === root.length) return { kind: 'own' };
  return { kind: 'mixed', own: [...new Set(own)], others: [...new Set(root.filter((name) => !own.includes(name)))] };
}

function mixedRefusal(own: string[], others: string[]): ValidationError {
  return new ValidationError(
    `${own.join(', ')} must be asked in an operation of ${own.length === 1 ? 'its' : 'their'} own, without ${others.join(', ')}: send those in another request`,
    { reason: 'OWN_OPERATION', fields: own },
  );
}

/** Incremental delivery without a request transaction: the scope lives until the last payload. */
async function* closeWhenDone<T>(scope: TenantScope, results: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* results;
  } finally {
    scope.close();
  }
}

/** Incremental delivery (@defer / @stream): the transaction lives until the last payload. */
async function* commitWhenDone<T>(scope: TenantScope, results: AsyncIterable<T>): AsyncGenerator<T> {
  let failed = false;
  try {
    yield* results;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      await (failed ? scope.rollback() : scope.commit());
    } finally {
      scope.close();
    }
  }
}
