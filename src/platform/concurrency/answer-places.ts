/**
 * The places of answers in progress in this process (domains/endpoint-queries/
 * answers-in-progress.ts says why they are bounded): per caller, per tenant twice over (the
 * answers its callers ask for, `asking`, and the answers its endpoints give to callers from
 * outside it, `serving`, of which any one outsider takes at most half), and in all. A place is
 * taken in two steps: the caller's, its tenant's and the process's at once, on admission; the
 * serving tenant's once the endpoint is reached (`serve`). Each step takes all its places or
 * none; the place gives back everything it took, together, once.
 */
import type { Registry } from 'prom-client';
import { HeldCounts, type GiveBack } from './held-counts.js';

export type { GiveBack } from './held-counts.js';

export interface AnswerLimits {
  perCaller: number;
  perTenant: number;
  total: number;
}

/** Which bound refused the first step: the caller's, its tenant's (`asking`), or the process's. */
type Full = 'caller' | 'asking' | 'total';

/** Which bound refused `serve`: the endpoint's tenant's (`serving`), or the outsider's part of it (`outsider`). */
export type ServingFull = 'serving' | 'outsider';

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

  /** One more answer for `caller`, asked by `asking`'s callers: the caller's, the asking tenant's and the process's places, or none and the bound that refused. */
  take(caller: string, asking: string | null): { place: AnswerPlace } | { full: Full } {
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
    let given = false;
    return {
      place: {
        serve: (serving, outsider) => {
          if (given) return null;
          const share = this.tenants.take(`serving:${serving}`);
          if ('full' in share) return 'serving';
          const part = this.outsiders.take(`serving:${serving}:${outsider}`);
          if ('full' in part) {
            share.giveBack();
            return 'outsider';
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

  /** Answers in progress now, in all. */
  held(): number {
    return this.callers.held();
  }
}
