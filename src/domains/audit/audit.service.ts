/**
 * Reading the tenant's audit trail (ADMIN): filtered pages, newest first; every event of a
 * range in order (export); and the chain's verification. Reads run under the request's
 * tenant (RLS), so only the tenant's own events are visible.
 */
import { boundSql } from '../../db/bound-sql.js';
import { ValidationError } from '../errors.js';
import { escapeLike } from '../fields.js';
import { assertCan } from '../access/permissions.js';
import { MAX_PAGE_SIZE } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { tailTrail, type TrailSource } from './audit-tail.js';
import { verifyChain, type VerifyRange, type VerifyResult } from './chain-verifier.js';

export interface AuditEventFilter {
  actor?: string | null;
  action?: string | null;
  outcome?: string | null;
  from?: Date | null;
  to?: Date | null;
}

export interface AuditEventRow {
  id: string;
  seq: string;
  /** ISO 8601. */
  createdAt: string;
  action: string;
  outcome: string;
  actorKind: string;
  actorId: string | null;
  payload: Record<string, unknown>;
  personal: Record<string, unknown>;
  hash: string;
}

// created_at as ISO 8601 text: the ORM's pg driver hands timestamps over as PostgreSQL's own
// text ("2026-11-29 21:56:10.963+00"), which is not RFC 3339 (the DateTime scalar, JSON Lines).
const COLUMNS = `id, seq, to_json(created_at) #>> '{}' as "createdAt", action, outcome, actor_kind as "actorKind", actor_id as "actorId", payload, personal, encode(hash, 'hex') as hash`;

export class AuditService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Newest first; `after` is the `seq` of the last event of the previous page. */
  async list(filter: AuditEventFilter, page: { first?: number | null; after?: string | null }): Promise<{ items: AuditEventRow[]; hasNextPage: boolean }> {
    assertCan(this.ctx.actor, 'audit:read');
    const size = page.first ?? 50;
    if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) throw new ValidationError(`first must be 0 to ${MAX_PAGE_SIZE}`, { field: 'first' });
    if (page.after != null && !/^\d{1,18}$/.test(page.after)) throw new ValidationError('Invalid pagination cursor', { field: 'after' });
    const { where, params } = this.conditions(filter);
    if (page.after) {
      where.push('seq < ?');
      params.push(page.after);
    }
    const rows = await boundSql<AuditEventRow>(this.ctx.em, `select ${COLUMNS} from audit_events where ${where.join(' and ')} order by seq desc limit ${size + 1}`, params);
    return { items: rows.slice(0, size), hasNextPage: rows.length > size };
  }

  /** Every event of the filter, oldest first, a batch at a time (for JSON Lines export). */
  async *export(filter: AuditEventFilter): AsyncGenerator<AuditEventRow> {
    assertCan(this.ctx.actor, 'audit:read');
    let after = '0';
    const { where, params } = this.conditions(filter);
    for (;;) {
      // Each batch in a short transaction of its own: a client reading slowly holds no
      // connection between batches (ten slow exports held the whole pool when one transaction
      // lasted the stream). The keyset (`seq`) keeps the order and skips nothing committed.
      const rows = await this.ctx.em.transactional(
        (tx) => boundSql<AuditEventRow>(tx, `select ${COLUMNS} from audit_events where ${where.join(' and ')} and seq > ? order by seq limit 1000`, [...params, after]),
        { readOnly: true },
      );
      yield* rows;
      if (rows.length < 1000) return;
      after = rows.at(-1)!.seq;
    }
  }

  /**
   * New events of the filter as they are written, from now on: one shared reader per tenant
   * and filter (audit-tail.ts) reads them in short transactions of its own, under the tenant's
   * RLS, with the same conditions as `list`.
   */
  async live(filter: AuditEventFilter, pollMs = 2000): Promise<AsyncIterableIterator<AuditEventRow>> {
    const { actor, em, deps } = this.ctx;
    assertCan(actor, 'audit:read');
    const tenantId = actor.tenantId!;
    // Built (and so validated) before the stream starts: a bad filter refuses the subscription.
    const { where, params } = this.conditions(filter);
    const source: TrailSource = {
      newest: async () => {
        const [row] = await em.transactional((tx) => boundSql<{ seq: string | null }>(tx, 'select max(seq) as seq from audit_events where tenant_id = ?::uuid', [tenantId]));
        return row?.seq ?? '0';
      },
      after: (seq, limit) =>
        em.transactional((tx) => boundSql<AuditEventRow>(tx, `select ${COLUMNS} from audit_events where ${where.join(' and ')} and seq > ? order by seq limit ${limit}`, [...params, seq])),
    };
    // Listeners of one filter share a reader; its key names the filter's conditions exactly.
    const topic = JSON.stringify([where, params.slice(1)]);
    return tailTrail<AuditEventRow>(source, { tenantId, topic, readers: deps.topicReaders, hints: deps.auditFeed, pollMs });
  }

  async verify(range: VerifyRange): Promise<VerifyResult> {
    const { actor, em, deps } = this.ctx;
    assertCan(actor, 'audit:read');
    return verifyChain((sql, params) => boundSql(em, sql, params as never), deps.secrets, actor.tenantId!, range);
  }

  /** The filter as SQL conditions on the tenant's events; the one reading of a filter (`list`, `export`, `live`). */
  private conditions(filter: AuditEventFilter): { where: string[]; params: string[] } {
    // `*` means "prefix" only at the end; elsewhere it would silently match nothing.
    if (filter.action?.slice(0, -1).includes('*')) throw new ValidationError('action: exact, or a prefix ending in * (config.*)', { field: 'action' });
    const where = ['tenant_id = ?::uuid'];
    const params: string[] = [this.ctx.actor.tenantId!];
    if (filter.actor) (where.push('actor_id = ?'), params.push(filter.actor));
    if (filter.action?.endsWith('*')) {
      // Every character before the `*` is literal: `%` and `_` are wildcards to LIKE, not to us
      // (`endpoint_query*` must not select `endpoint.query`).
      where.push(`action like ? escape '\\'`);
      params.push(`${escapeLike(filter.action.slice(0, -1))}%`);
    } else if (filter.action) (where.push('action = ?'), params.push(filter.action));
    if (filter.outcome) (where.push('outcome = ?'), params.push(filter.outcome));
    if (filter.from) (where.push('created_at >= ?::timestamptz'), params.push(filter.from.toISOString()));
    if (filter.to) (where.push('created_at < ?::timestamptz'), params.push(filter.to.toISOString()));
    return { where, params };
  }
}
