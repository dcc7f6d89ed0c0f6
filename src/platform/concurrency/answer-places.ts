/**
 * The places of answers in progress in this process (domains/endpoint-queries/
 * answers-in-progress.ts says why they are bounded): per caller, per tenant twice over (the
 * answers its callers ask for, `asking`, and the answers its endpoints give to callers from
 * outside it, `serving`, of which any one outsider takes at most half), and in all. A place is
 * taken in two steps: the caller's, its tenant's and the process's at once, on admission; the
 * serving tenant's once the endpoint is reached (`serve`). Each step takes all its places or
 * none; the place gives back everything it took, together, once.
 *
 * The last `reserve` places of the process are kept for tenants with little running: once
 * `total − reserve` are in use, a place goes only where every tenant it involves (the asking
 * tenant; the serving tenant, for an outsider) is involved in fewer than `guaranteed` places in
 * all, asking and serving counted together. Tenants cost nothing to make (sign-up is open), so
 * the per-tenant bounds alone let four of them hold the whole process; and when the asking and
 * the serving counts each had a guarantee, and an anonymous caller's address one of its own, a
 * tenant took twice its guarantee and anonymous callers from a few addresses took the rest
 * (attacker reviews, December). An anonymous caller has no guarantee: addresses are free too, so
 * its place past the line is the serving tenant's, judged at `serve`.
 */
import type { Registry } from 'prom-client';
import { HeldCounts, type GiveBack } from './held-counts.js';

export type { GiveBack } from './held-counts.js';

export interface AnswerLimits {
  perCaller: number;
  perTenant: number;
  total: number;
  /** The process's last places, kept for tenants involved in fewer than `guaranteed` (0: none kept). Less than `total`. */
  reserve: number;
  /** What a tenant may still be involved in while the process is past its reserve line, asking and serving together: it takes a place while it is in fewer. */
  guaranteed: number;
}

/** Which bound refused the first step: the caller's, its tenant's (`asking`), the reserve's (the tenant is in its guaranteed places already), or the process's. */
type Full = 'caller' | 'asking' | 'reserve' | 'total';

/** Which bound refused `serve`: the endpoint's tenant's (`serving`), the outsider's part of it (`outsider`), or the reserve's (that tenant is in its guaranteed places already). */
export type ServingFull = 'serving' | 'outsider' | 'reserve';

/** One answer's places, taken until `giveBack`. */
export interface AnswerPlace {
  /**
   * Also a place among the answers `serving`'s endpoints give to outsiders, `outsider` (another
   * tenant, or anonymous callers together) taking one of its part: null when taken (or when this
   * place was given back already: the answer is over and takes nothing more), else the bound that
   * refused, and nothing more is held.
   */
  serve(serving: string, outsider: string): ServingFull | null;
  giveBack: GiveBack;
}

/** The places of answers in progress in this process, by caller, by tenant and in all. */
export class AnswerPlaces {
  /** The most of one tenant's serving share that one outsider may hold: half, rounded up, so that one outsider never holds it all (unless the share is 1). */
  readonly perOutsider: number;
  /** Per caller, and every caller together (the process's bound). */
  private readonly callers: HeldCounts;
  /** Per tenant: `asking:<tenant id>` for its callers' answers, `serving:<tenant id>` for its endpoints' to outsiders. */
  private readonly tenants: HeldCounts;
  /** Per outsider of a tenant: `serving:<tenant id>:<outsider>`. */
  private readonly outsiders: HeldCounts;

  constructor(
    readonly limits: AnswerLimits,
    registry?: Registry,
  ) {
    this.callers = new HeldCounts(
      { perKey: limits.perCaller, total: limits.total },
      registry && { registry, name: 'sluice_answers_in_progress', help: 'Endpoint answers in progress (admitted, not yet ended), against SLUICE_MAX_ANSWERS' },
    );
    this.tenants = new HeldCounts({ perKey: limits.perTenant, total: Number.MAX_SAFE_INTEGER });
    this.perOutsider = Math.ceil(limits.perTenant / 2);
    this.outsiders = new HeldCounts({ perKey: this.perOutsider, total: Number.MAX_SAFE_INTEGER });
  }

  /**
   * One more answer for `caller`, asked by `asking`'s callers: the caller's, the asking tenant's
   * and the process's places, or none and the bound that refused. Past the reserve line the
   * asking tenant must be involved in fewer than `guaranteed`; a caller of no tenant (anonymous)
   * is judged by the serving tenant's guarantee at `serve`, never by its own.
   */
  take(caller: string, asking: string | null): { place: AnswerPlace } | { full: Full } {
    // Read before taking: what the asking tenant is in, and whether this place would be one of the reserve.
    const inReserve = this.pastReserveLine(0);
    const askerHolds = asking ? this.involving(asking) : 0;
    const first = this.callers.take(caller);
    if ('full' in first) return { full: first.full === 'key' ? 'caller' : 'total' };
    const held = [first.giveBack];
    if (asking) {
      const tenant = this.tenants.take(`asking:${asking}`);
      if ('full' in tenant) {
        first.giveBack();
        return { full: 'asking' };
      }
      held.push(tenant.giveBack);
    }
    if (inReserve && askerHolds >= this.limits.guaranteed) {
      held.forEach((giveBack) => giveBack());
      return { full: 'reserve' };
    }
    let given = false;
    return {
      place: {
        serve: (serving, outsider) => {
          if (given) return null;
          // This place is counted already: it is in the reserve if the others reach the line.
          const inReserve = this.pastReserveLine(1);
          // Its callers' answers count too: one tenant, one guarantee, whichever side it is on.
          const servingHolds = this.involving(serving);
          const share = this.tenants.take(`serving:${serving}`);
          if ('full' in share) return 'serving';
          const part = this.outsiders.take(`serving:${serving}:${outsider}`);
          if ('full' in part) {
            share.giveBack();
            return 'outsider';
          }
          if (inReserve && servingHolds >= this.limits.guaranteed) {
            share.giveBack();
            part.giveBack();
            return 'reserve';
          }
          held.push(share.giveBack, part.giveBack);
          return null;
        },
        giveBack: () => {
          given = true;
          held.forEach((giveBack) => giveBack());
        },
      },
    };
  }

  /** The places `tenant` is involved in: its callers' answers and its endpoints' for outsiders. */
  private involving(tenant: string): number {
    return this.tenants.heldBy(`asking:${tenant}`) + this.tenants.heldBy(`serving:${tenant}`);
  }

  /** Whether the process's places in use, less `own` of the place being judged, reach `total − reserve`. */
  private pastReserveLine(own: number): boolean {
    return this.callers.held() - own >= this.limits.total - this.limits.reserve;
  }

  /** Answers in progress now, in all. */
  held(): number {
    return this.callers.held();
  }
}
