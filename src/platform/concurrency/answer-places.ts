/**
 * The places of answers in progress in this process (domains/endpoint-queries/
 * answers-in-progress.ts says why they are bounded): per caller, per tenant twice over (the
 * answers its callers ask for, `asking`, and the answers its endpoints give to callers from
 * outside it, `serving`, of which any one outsider takes at most half), and in all. A place is
 * taken in two steps: the caller's, its tenant's and the process's at once, on admission; the
 * serving tenant's once the endpoint is reached (`serve`). Each step takes all its places or
 * none; the place gives back everything it took, together, once.
 *
 * The last `reserve` places of the process are kept for whoever has little running: once
 * `total − reserve` are in use, a place goes only to an asking tenant (an anonymous caller: its
 * address) holding fewer than `guaranteed`, and `serve` only to a serving tenant giving fewer
 * than `guaranteed` to outsiders. Tenants cost nothing to make (sign-up is open), so the
 * per-tenant bounds alone let four of them hold the whole process (attacker review, December).
 */
import type { Registry } from 'prom-client';
import { HeldCounts, type GiveBack } from './held-counts.js';

export type { GiveBack } from './held-counts.js';

export interface AnswerLimits {
  perCaller: number;
  perTenant: number;
  total: number;
  /** The process's last places, kept for tenants with fewer than `guaranteed` running (0: none kept). Less than `total`. */
  reserve: number;
  /** What a tenant may still start while the process is past its reserve line: it takes a place while it holds fewer. */
  guaranteed: number;
}

/** Which bound refused the first step: the caller's, its tenant's (`asking`), the reserve's (the tenant already holds its guaranteed places), or the process's. */
type Full = 'caller' | 'asking' | 'reserve' | 'total';

/** Which bound refused `serve`: the endpoint's tenant's (`serving`), the outsider's part of it (`outsider`), or the reserve's (that tenant already gives its guaranteed places). */
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
   * asking tenant (no tenant: the caller, an anonymous address) must hold fewer than `guaranteed`.
   */
  take(caller: string, asking: string | null): { place: AnswerPlace } | { full: Full } {
    // Read before taking: what the asker holds, and whether this place would be one of the reserve.
    const inReserve = this.pastReserveLine(0);
    const askerHolds = asking ? this.tenants.heldBy(`asking:${asking}`) : this.callers.heldBy(caller);
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
          const servingGives = this.tenants.heldBy(`serving:${serving}`);
          const share = this.tenants.take(`serving:${serving}`);
          if ('full' in share) return 'serving';
          const part = this.outsiders.take(`serving:${serving}:${outsider}`);
          if ('full' in part) {
            share.giveBack();
            return 'outsider';
          }
          if (inReserve && servingGives >= this.limits.guaranteed) {
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

  /** Whether the process's places in use, less `own` of the place being judged, reach `total − reserve`. */
  private pastReserveLine(own: number): boolean {
    return this.callers.held() - own >= this.limits.total - this.limits.reserve;
  }

  /** Answers in progress now, in all. */
  held(): number {
    return this.callers.held();
  }
}
