import { createHash } from 'node:crypto';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { AuthContext, ScopeContext } from './context.js';
import type { Orm } from '../db/orm.js';
import { TenantScope } from '../db/tenant-scope.js';
import type { Actor } from '../domains/actor.js';
import type { RequestFacts, ServiceDependencies } from '../domains/service-context.js';
import { createServices } from '../domains/services.js';
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { operationOf, rootFieldsOf } from '../graphql/root-fields.js';

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
      extendContext(openOperationScope({ orm, deps }, context.actor, requestFactsOf(context)));
    },
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        const { scope } = args.contextValue as ScopeContext;
        const operation = operationOf(args.document, args.operationName);
        if (operation && ownTransactions(args.schema, args.document, operation)) {
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

function requestFactsOf(context: object): RequestFacts {
  const query = (context as { params?: { query?: unknown } }).params?.query;
  return {
    operationHash: typeof query === 'string' ? createHash('sha256').update(query).digest('hex') : null,
    requestId: (context as { requestId?: string }).requestId ?? null,
    traceId: (context as { traceId?: string | null }).traceId ?? null,
    ip: (context as { clientIp?: string }).clientIp ?? null,
    userAgent: (context as { request?: Request }).request?.headers.get('user-agent') ?? null,
  };
}

/** Every root field of the operation opens its own transactions (see above). */
function ownTransactions(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean {
  const fields = schema.getRootType(operation.operation)?.getFields();
  const root = rootFieldsOf(document, operation);
  return root.length > 0 && root.every((field) => fields?.[field.name.value]?.extensions?.ownTransactions === true);
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
