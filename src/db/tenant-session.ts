/**
 * The tenant session: one source of truth for the ORM filter and PostgreSQL row-level security.
 *
 * A request's forked EntityManager carries `{ tenantId, userId }` as the parameters of the
 * `tenant` filter. Every transaction that fork starts copies them into the transaction-local
 * settings `app.tenant_id` / `app.user_id`, which the RLS policies read. A fork without
 * parameters fails closed in both layers: the filter throws, and RLS sees no tenant.
 */
import type { EntityManager, EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';

export const TENANT_FILTER = 'tenant';

export interface TenantSession {
  tenantId: string;
  /** The user behind the request, if any; RLS lets a user see their own memberships. */
  userId: string | null;
}

/** Filter definition for tenant-owned entities: `filters: { tenant: tenantFilter() }`. */
export function tenantFilter() {
  return {
    name: TENANT_FILTER,
    cond: (session: TenantSession) => ({ tenant: session.tenantId }),
    default: true,
    strict: true,
  };
}

export function bindTenantSession(em: EntityManager, session: TenantSession): void {
  em.setFilterParams(TENANT_FILTER, session);
}

export function tenantSessionOf(em: EntityManager): TenantSession | undefined {
  return em.getFilterParams<TenantSession>(TENANT_FILTER);
}

/**
 * The units of work of entry points that open their own transaction (TenantScope.begin: a
 * GraphQL operation, the REST login), whose transactions wait at most the request lock timeout
 * for a lock. A request that waited
 * without end behind a worker's long transaction held a pooled connection all that time: ten
 * `cancelIngestion` calls during a large ingestion held the whole pool for minutes. A job's
 * own transactions are not limited: they wait for each other by design.
 */
const entryPoints = new WeakSet<EntityManager>();

export function markEntryPoint(em: EntityManager): void {
  entryPoints.add(em);
}

export class TenantSessionSubscriber implements EventSubscriber {
  /** @param requestLockTimeoutMs how long an entry point's transaction waits for a lock; unlimited when absent. */
  constructor(private readonly requestLockTimeoutMs?: number) {}

  async afterTransactionStart({ em, transaction }: TransactionEventArgs): Promise<void> {
    const session = tenantSessionOf(em as EntityManager);
    const lockTimeout = this.requestLockTimeoutMs !== undefined && entryPoints.has(em as EntityManager) ? `${this.requestLockTimeoutMs}ms` : null;
    // `true`: transaction-local, so a pooled connection never carries a tenant (or a lock
    // timeout) into the next use. One statement: the settings cost no round trip of their own.
    await (em as EntityManager)
      .getConnection()
      .execute(
        lockTimeout
          ? `select set_config('app.tenant_id', ?, true), set_config('app.user_id', ?, true), set_config('lock_timeout', ?, true)`
          : `select set_config('app.tenant_id', ?, true), set_config('app.user_id', ?, true)`,
        lockTimeout ? [session?.tenantId ?? '', session?.userId ?? '', lockTimeout] : [session?.tenantId ?? '', session?.userId ?? ''],
        'run',
        transaction,
      );
  }
}

/**
 * Re-binds an EntityManager that is inside a transaction to another session, in both layers at
 * once (filter parameters and the transaction's RLS settings). For the few flows whose proof
 * of tenant is not the request's credential: signing up (a new tenant), logging in (the
 * user's own memberships), accepting an invitation (the invitation's tenant).
 */
export async function enterSession(em: EntityManager, session: TenantSession | { tenantId: null; userId: string }): Promise<void> {
  const transaction = em.getTransactionContext();
  if (!transaction) throw new Error('enterSession needs a transaction: the RLS settings are transaction-local');
  if (session.tenantId) bindTenantSession(em, session);
  await em
    .getConnection()
    .execute(
      `select set_config('app.tenant_id', ?, true), set_config('app.user_id', ?, true)`,
      [session.tenantId ?? '', session.userId ?? ''],
      'run',
      transaction,
    );
}

/** A plain connection (a pg client), as the job queue's tasks hold one. */
export interface SqlConnection {
  query<R extends Record<string, unknown>>(sql: string, values: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * Runs `work` in a transaction of its own on a plain connection, bound to the tenant for RLS
 * (no user). For the job queue's connections, which are the owner's: FORCEd RLS binds the owner
 * too, so the queue reads a job's row only in its tenant, as the app does (the ingestion task,
 * checking a job has not ended before it takes a slot or parks, ingestion/waiting-jobs.ts).
 */
export async function inTenantTransaction<T>(connection: SqlConnection, tenantId: string, work: () => Promise<T>): Promise<T> {
  await connection.query('begin', []);
  try {
    await connection.query(`select set_config('app.tenant_id', $1, true), set_config('app.user_id', '', true)`, [tenantId]);
    const value = await work();
    await connection.query('commit', []);
    return value;
  } catch (error) {
    await connection.query('rollback', []).catch(() => undefined);
    throw error;
  }
}
