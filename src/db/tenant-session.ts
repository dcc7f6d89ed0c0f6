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

export class TenantSessionSubscriber implements EventSubscriber {
  async afterTransactionStart({ em, transaction }: TransactionEventArgs): Promise<void> {
    const session = tenantSessionOf(em as EntityManager);
    // `true`: transaction-local, so a pooled connection never carries a tenant into the next use.
    await (em as EntityManager)
      .getConnection()
      .execute(
        `select set_config('app.tenant_id', ?, true), set_config('app.user_id', ?, true)`,
        [session?.tenantId ?? '', session?.userId ?? ''],
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
