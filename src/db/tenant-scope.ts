/**
 * The tenant scope: who is asking, which tenant their work is confined to, and which
 * transaction it runs in. The one place that forks the EntityManager and binds the tenant
 * session (ORM filter parameters, copied into `app.tenant_id` for row-level security by every
 * transaction the fork starts).
 *
 * Every entry point opens exactly one scope: a GraphQL operation or subscription (the
 * request-scope plugin), a REST route, a queued job, an operator command. Work then runs
 *   - in the entry point's own transaction (`begin` … `commit`): a GraphQL operation, a route;
 *   - or in short transactions of their own (`read`, `write`): a subscription's reads, a job's
 *     steps, each on a fresh unit of work so it sees what others committed meanwhile and
 *     holds a connection only while it runs.
 * A scope whose entry point has ended (`close`) refuses further work.
 *
 * Three flows prove their tenant by something other than the request's credential and
 * re-enter inside the open transaction (`enterTenant`, `enterAsUser`): signing up (a new
 * tenant), signing in or refreshing (the user's own memberships), accepting an invitation (the
 * invitation's tenant). The one legitimate hop into another tenant, a consumer reaching a
 * published endpoint, is `crossToPublisherOf`: it returns a separate scope, never changes this one.
 */
import { TransactionEventBroadcaster } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from './orm.js';
import { bindTenantSession, enterSession, markEntryPoint, tenantSessionOf } from './tenant-session.js';

/** Whose data a scope may touch: the tenant (none: only tenant-free tables) and the user behind it. */
export interface ScopeOwner {
  readonly tenantId: string | null;
  readonly userId: string | null;
}

type Work<T> = (em: EntityManager) => Promise<T>;

export class TenantScope {
  private ended = false;
  /** The entry point's open transaction (`begin`), if any. */
  private openTransaction: { readOnly: boolean; checkChanges?: boolean } | undefined;
  private readonly afterCommitTasks: (() => void)[] = [];
  /** Scopes that end with this one (a hop into a publisher's tenant). */
  private readonly onClose: (() => void)[] = [];

  private constructor(
    private readonly orm: Orm,
    /** The entry point's unit of work, bound to the owner's tenant. */
    readonly em: EntityManager,
  ) {}

  /** Opens the scope of one entry point for `owner` (an `Actor` is one). */
  static open(orm: Orm, owner: ScopeOwner): TenantScope {
    return new TenantScope(orm, boundFork(orm, owner));
  }

  /** Runs `work` in a READ ONLY transaction of its own on a fresh unit of work bound to this scope's tenant. */
  read<T>(work: Work<T>): Promise<T> {
    return this.ownTransaction(work, true);
  }

  /** Runs `work` in a read-write transaction of its own on a fresh unit of work bound to this scope's tenant. */
  write<T>(work: Work<T>): Promise<T> {
    return this.ownTransaction(work, false);
  }

  /**
   * Opens the entry point's transaction on `em`. It commits with `commit` (field errors
   * included: a service needing all-or-nothing nests a transaction of its own) or ends with
   * `rollback`. A READ ONLY transaction makes PostgreSQL refuse writes, and its commit skips
   * the flush: MikroORM's `commit` first computes change sets over everything loaded.
   */
  async begin(options: { readOnly: boolean; checkChanges?: boolean }): Promise<void> {
    this.assertOpen();
    // Waits for a lock at most the request lock timeout (tenant-session.ts), then UNAVAILABLE.
    markEntryPoint(this.em);
    await this.em.begin({ readOnly: options.readOnly });
    this.openTransaction = options;
  }

  /**
   * Commits the entry point's transaction, then runs the tasks queued with `afterCommit`. A
   * read-only one fails if entities were left to write (persisted or removed: always checked;
   * changed once loaded: with `checkChanges`, since finding them costs the change-set
   * computation the skipped flush saves). When the commit fails (a flush refused, a lost
   * connection) it rolls back and rethrows: a pooled connection never stays in a transaction.
   */
  async commit(): Promise<void> {
    const { readOnly, checkChanges = false } = this.openTransaction ?? { readOnly: false };
    this.openTransaction = undefined;
    try {
      if (!readOnly) await this.em.commit();
      else {
        if (leftChanges(this.em, checkChanges)) throw new Error('A query left entities to write: queries run in READ ONLY transactions');
        await this.em.getConnection().commit(this.em.getTransactionContext()!, new TransactionEventBroadcaster(this.em));
        this.em.resetTransactionContext();
      }
    } catch (error) {
      if (this.em.isInTransaction()) await this.em.rollback().catch(() => undefined);
      this.afterCommitTasks.length = 0;
      throw error;
    }
    for (const task of this.afterCommitTasks.splice(0)) task();
  }

  /** `begin`, `work` on the entry point's unit of work, then `commit`; `rollback` if `work` throws. */
  async transaction<T>(options: { readOnly: boolean }, work: Work<T>): Promise<T> {
    await this.begin(options);
    let result: T;
    try {
      result = await work(this.em);
    } catch (error) {
      await this.rollback();
      throw error;
    }
    await this.commit();
    return result;
  }

  /** Ends the entry point's transaction without keeping anything; the queued tasks are dropped. */
  async rollback(): Promise<void> {
    this.openTransaction = undefined;
    this.afterCommitTasks.length = 0;
    if (this.em.isInTransaction()) await this.em.rollback();
  }

  /**
   * Runs `task` once the entry point's transaction has committed (publishing an event about a
   * change must not run ahead of the change); at once when no transaction is open.
   */
  afterCommit(task: () => void): void {
    if (this.em.isInTransaction()) this.afterCommitTasks.push(task);
    else task();
  }

  /**
   * Enters `tenantId` inside the open transaction, in both layers at once, for a flow whose
   * proof of tenant is not the credential: a new tenant at sign-up, the membership a sign-in
   * or refresh chose, the tenant of a valid invitation, the tenant an operator names on the
   * command line.
   */
  async enterTenant(tenantId: string, userId: string | null): Promise<void> {
    this.assertOpen();
    await enterSession(this.em, { tenantId, userId });
  }

  /**
   * Reads as `userId` alone inside the open transaction (no tenant in RLS): what a user may
   * see of their own memberships across tenants, to choose one. The ORM filter keeps its
   * parameters; queries here pass `filters: false` for the user's own rows.
   */
  async enterAsUser(userId: string): Promise<void> {
    this.assertOpen();
    await enterSession(this.em, { tenantId: null, userId });
  }

  /**
   * The one cross-tenant hop: a scope bound to the tenant that published an endpoint the
   * caller may reach (the caller's own, or one published for others: the caller checks that
   * before the hop). No user is bound there: the caller is no member of that tenant. The new
   * scope has no transaction open and ends with this one.
   */
  crossToPublisherOf(endpointTenantId: string): TenantScope {
    this.assertOpen();
    const publisher = TenantScope.open(this.orm, { tenantId: endpointTenantId, userId: null });
    this.onClose.push(() => publisher.close());
    return publisher;
  }

  /**
   * Runs `task` when the scope ends (at once if it has): what the entry point holds for as
   * long as it lasts is given back however it ends.
   */
  onEnd(task: () => void): void {
    if (this.ended) return task();
    this.onClose.push(task);
  }

  /** Ends the scope (its entry point ended: a response sent, a subscription closed): later work is refused. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.afterCommitTasks.length = 0;
    for (const close of this.onClose.splice(0)) close();
    this.em.clear();
  }

  get closed(): boolean {
    return this.ended;
  }

  private ownTransaction<T>(work: Work<T>, readOnly: boolean): Promise<T> {
    this.assertOpen();
    const session = tenantSessionOf(this.em);
    const em = boundFork(this.orm, { tenantId: session?.tenantId ?? null, userId: session?.userId ?? null });
    return em.transactional((tx) => work(tx as EntityManager), { readOnly });
  }

  private assertOpen(): void {
    if (this.ended) throw new Error('This scope has ended: its request, subscription or job is over');
  }
}

/** A fresh unit of work bound to `owner`; unbound (tenant-free tables only: the filter fails closed) without a tenant. */
function boundFork(orm: Orm, owner: ScopeOwner): EntityManager {
  const em = orm.em.fork({ clear: true }) as EntityManager;
  if (owner.tenantId) bindTenantSession(em, { tenantId: owner.tenantId, userId: owner.userId });
  return em;
}

/** Entities persisted or removed (always checked: free), or changed once loaded (on request). */
function leftChanges(em: EntityManager, checkChanges: boolean): boolean {
  const work = em.getUnitOfWork();
  if (work.getPersistStack().size > 0 || work.getRemoveStack().size > 0) return true;
  if (!checkChanges) return false;
  work.computeChangeSets();
  return work.getChangeSets().length > 0;
}
