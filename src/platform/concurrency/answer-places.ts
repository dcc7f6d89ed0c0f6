/**
 * The places of answers in progress in this process (domains/endpoint-queries/
 * answers-in-progress.ts says why they are bounded): per caller, per tenant twice over (the
 * answers its callers ask for, `asking`, and the answers its endpoints give, `serving`), and in
 * all. Taken all at once or not at once; given back together, once.
 */
import type { Registry } from 'prom-client';
import { HeldCounts, type GiveBack } from './held-counts.js';

export type { GiveBack } from './held-counts.js';

export interface AnswerLimits {
  perCaller: number;
  perTenant: number;
  total: number;
}

/** Which bound refused: the caller's, its tenant's (`asking`), the endpoint's tenant's (`serving`), or the process's. */
type Full = 'caller' | 'asking' | 'serving' | 'total';

/** The places of answers in progress in this process, by caller, by tenant and in all. */
export class AnswerPlaces {
  /** Per caller, and every caller together (the process's bound). */
  private readonly callers: HeldCounts;
  /** Per tenant: `asking:<tenant id>` for its callers' answers, `serving:<tenant slug>` for its endpoints'. */
  private readonly tenants: HeldCounts;

  constructor(
    readonly limits: AnswerLimits,
    registry?: Registry,
  ) {
    this.callers = new HeldCounts(
      { perKey: limits.perCaller, total: limits.total },
      registry && { registry, name: 'sluice_answers_in_progress', help: 'Endpoint answers in progress (admitted, not yet ended), against SLUICE_MAX_ANSWERS' },
    );
    this.tenants = new HeldCounts({ perKey: limits.perTenant, total: Number.MAX_SAFE_INTEGER });
  }

  /** One more answer for `caller`, asked by `asking`'s callers and given by `serving`'s endpoint: every place, or none and the bound that refused. */
  take(caller: string, tenants: { asking: string | null; serving: string | null }): { giveBack: GiveBack } | { full: Full } {
    const first = this.callers.take(caller);
    if ('full' in first) return { full: first.full === 'key' ? 'caller' : 'total' };
    const taken = [first.giveBack];
    for (const [bound, key] of [['asking', tenants.asking && `asking:${tenants.asking}`], ['serving', tenants.serving && `serving:${tenants.serving}`]] as const) {
      if (!key) continue;
      const place = this.tenants.take(key);
      if ('full' in place) {
        for (const giveBack of taken) giveBack();
        return { full: bound };
      }
      taken.push(place.giveBack);
    }
    return { giveBack: () => taken.forEach((giveBack) => giveBack()) };
  }

  /** Answers in progress now, in all. */
  held(): number {
    return this.callers.held();
  }
}

