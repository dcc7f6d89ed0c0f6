import { createHash } from 'node:crypto';
import { TransactionEventBroadcaster } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { AuthContext, ScopeContext } from './context.js';
import type { Orm } from '../db/orm.js';
import { bindTenantSession } from '../db/tenant-session.js';
import type { ServiceDependencies } from '../domains/service-context.js';
import { createServices } from '../domains/services.js';
import { operationOf } from '../graphql/root-fields.js';

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
 * The per-operation unit of work: a forked EntityManager bound to the actor's tenant (ORM
 * filter parameters, which the transaction copies into `app.tenant_id` for RLS), the services
 * built around it, and a transaction around execution.
 *
 * The transaction commits when execution ends, field errors included: a service that needs
 * all-or-nothing opens its own (nested) transaction. A query's transaction is READ ONLY:
 * PostgreSQL refuses a write a query attempts, and its commit skips the flush (MikroORM's
 * `commit` first computes change sets over everything loaded); entities a query left to be
 * written fail it instead (changed ones only outside production: finding them is the cost). Subscriptions do not pass
 * through execute, so their reads open short transactions of their own instead of holding a
 * connection open.
 */
export function useRequestScope({ orm, deps, checkQueriesChangeNothing = false }: RequestScopeOptions): Plugin<AuthContext & ScopeContext> {
  return {
    onContextBuilding({ context, extendContext }) {
      const { actor } = context;
      const em = orm.em.fork({ clear: true }) as EntityManager;
      if (actor.tenantId) bindTenantSession(em, { tenantId: actor.tenantId, userId: actor.userId });
      const committed: (() => void)[] = [];
      afterCommitTasks.set(em, committed);
      const query = (context as { params?: { query?: unknown } }).params?.query;
      const request = {
        operationHash: typeof query === 'string' ? createHash('sha256').update(query).digest('hex') : null,
        requestId: (context as { requestId?: string }).requestId ?? null,
        traceId: (context as { traceId?: string | null }).traceId ?? null,
        ip: (context as { clientIp?: string }).clientIp ?? null,
        userAgent: (context as { request?: Request }).request?.headers.get('user-agent') ?? null,
      };
      extendContext({ em, services: createServices({ actor, em, deps, request, afterCommit: (task) => committed.push(task) }) });
    },
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        const { em } = args.contextValue as ScopeContext;
        const readOnly = operationOf(args.document, args.operationName)?.operation === 'query';
        await em.begin({ readOnly });
        let result;
        try {
          result = await executeFn(args);
        } catch (error) {
          await em.rollback();
          throw error;
        }
        if (!isAsyncIterable(result)) {
          await commit(em, readOnly, checkQueriesChangeNothing);
          runAfterCommit(em);
          return result;
        }
        return commitWhenDone(em, result, () => commit(em, readOnly, checkQueriesChangeNothing));
      });
    },
  };
}

/** Incremental delivery (@defer / @stream): the transaction lives until the last payload. */
async function* commitWhenDone<T>(em: EntityManager, results: AsyncIterable<T>, commitIt: () => Promise<void>): AsyncGenerator<T> {
  let failed = false;
  try {
    yield* results;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await (failed ? em.rollback() : commitIt());
    if (!failed) runAfterCommit(em);
  }
}

/**
 * Commits; when that fails (a flush refused, a lost connection) rolls back and rethrows, so
 * the pooled connection never stays inside a transaction.
 */
async function commit(em: EntityManager, readOnly: boolean, checkChanges: boolean): Promise<void> {
  try {
    if (!readOnly) return await em.commit();
    if (leftChanges(em, checkChanges)) throw new Error('A query left entities to write: queries run in READ ONLY transactions');
    await em.getConnection().commit(em.getTransactionContext()!, new TransactionEventBroadcaster(em));
    em.resetTransactionContext();
  } catch (error) {
    if (em.isInTransaction()) await em.rollback().catch(() => undefined);
    throw error;
  }
}

/** Entities persisted or removed (always checked: free), or changed once loaded (on request). */
function leftChanges(em: EntityManager, checkChanges: boolean): boolean {
  const work = em.getUnitOfWork();
  if (work.getPersistStack().size > 0 || work.getRemoveStack().size > 0) return true;
  if (!checkChanges) return false;
  work.computeChangeSets();
  return work.getChangeSets().length > 0;
}

/** Tasks services queued for after the commit (outside a transaction they run at once). */
const afterCommitTasks = new WeakMap<EntityManager, (() => void)[]>();

function runAfterCommit(em: EntityManager): void {
  for (const task of afterCommitTasks.get(em)?.splice(0) ?? []) task();
}
