/**
 * A caller's share of the database pool for endpoint queries. A search holds a pooled
 * connection while it runs (up to SLUICE_SEARCH_TIMEOUT_MS); without a share, one tenant's
 * concurrent queries could hold every connection of the process and every other tenant wait
 * or fail (attacker review stop45, F15: twelve slow searches held all ten connections for
 * minutes). A tenant's callers together (an anonymous caller: its client address) run at most
 * half the pool's connections in query transactions at once, and all callers together the pool
 * less two (two tenants, or two addresses, could otherwise take it all); more wait in line, at
 * most eight times that many, each at most SLUICE_SEARCH_TIMEOUT_MS; beyond that RATE_LIMITED,
 * reason QUERIES_IN_PROGRESS. Held only while a transaction is open: not while the question is
 * embedded or the model answers. A request whose client goes away leaves the line at once (its
 * signal), so abandoned requests cannot fill it.
 */
import { Gauge, type Registry } from 'prom-client';
import { KeyedSlots, runShared, SlotsBusyError, type SharedSlots } from '../../platform/concurrency/keyed-slots.js';
import { ipIdentity } from '../../platform/rate-limits/bucket-keys.js';
import { CancelledError, RateLimitedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';

/** Each caller's share, and every caller's together (the pool less two, so other requests always find a connection), of a pool of `poolSize` connections. */
export function querySlotsFor(poolSize: number, waitMs: number, registry?: Registry): SharedSlots {
  const slots = Math.max(1, Math.floor(poolSize / 2));
  const total = Math.max(1, poolSize - 2);
  // Waiting holds no connection, only a request: the line is long enough for a busy client's
  // burst (a closed loop of 32 against the default pool of 10), and still bounded.
  const shared = {
    perCaller: new KeyedSlots({ slots, maxWaiting: 8 * slots, waitMs }),
    all: new KeyedSlots({ slots: total, maxWaiting: 16 * total, waitMs }),
  };
  if (registry) {
    new Gauge({
      name: 'sluice_queries_waiting',
      help: 'Endpoint queries waiting for their share of the database pool (a tenant: half the pool; everyone: the pool less two)',
      registers: [registry],
      collect() {
        this.set(shared.perCaller.waitingAll() + shared.all.waitingAll());
      },
    });
  }
  return shared;
}

/** `work` (one query transaction) in the caller's share; RATE_LIMITED when the share stays full. */
export async function inQuerySlot<T>(ctx: ServiceContext, work: () => Promise<T>): Promise<T> {
  const slots = ctx.deps.querySlots;
  if (!slots) return work();
  const { actor } = ctx;
  const key = actor.kind === 'anonymous' ? `address:${ipIdentity(ctx.request?.ip ?? 'unknown')}` : `tenant:${actor.tenantId}`;
  try {
    return await runShared(slots, key, work, ctx.request?.signal);
  } catch (error) {
    if (!(error instanceof SlotsBusyError)) throw error;
    // Nobody reads this answer; the code keeps the audit trail true (not RATE_LIMITED).
    if (error.reason === 'abandoned') throw new CancelledError('The client went away while the query waited for its share of the database pool');
    const whose = actor.kind === 'anonymous' ? 'from your address' : 'of your tenant';
    throw new RateLimitedError(`Too many queries ${whose} are being searched at once: retry in a second`, 1, { reason: 'QUERIES_IN_PROGRESS' });
  }
}
