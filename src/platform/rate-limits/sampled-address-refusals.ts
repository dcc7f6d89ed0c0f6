/**
 * The per-address limit (plugins/ip-rate-limit.ts) refuses a flood before a request is read:
 * cheap, and nothing is known then of who asks or which endpoint. So that an endpoint's owner
 * can still find in its decision log that a caller was refused by that limit (issue 20), the
 * first refusal of an address in each window, on a path that asks an endpoint, is let on,
 * marked, to where the caller and the endpoint are known (the GraphQL context, the consumer
 * door); there it is refused the same way and recorded. Every other refusal of the window is
 * answered at once, as before: one decision row per address and window, never one per
 * refused request (a flood must not become a flood of writes).
 */
import type { RateLimitedError } from '../errors/index.js';

/** A refusal decided by the per-address limit, carried on its request to be recorded and answered. */
export interface SampledRefusal {
  error: RateLimitedError;
  /** The rule in words, for the decision log. */
  rule: string;
}

const sampled = new WeakMap<Request, SampledRefusal>();

/** Marks `request` as refused; whoever knows its caller and endpoint records and answers it. */
export function carryRefusal(request: Request, refusal: SampledRefusal): void {
  sampled.set(request, refusal);
}

/** The refusal `request` carries, if the per-address limit let it on to be recorded. */
export function carriedRefusalOf(request: Request | undefined): SampledRefusal | undefined {
  return request ? sampled.get(request) : undefined;
}

/** Which refusals are let on to be recorded: the first of each address per window (per process). */
export class AddressRefusalSampler {
  private readonly windowEnds = new Map<string, number>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  firstInWindow(address: string): boolean {
    const now = this.now();
    const end = this.windowEnds.get(address);
    if (end !== undefined && end > now) return false;
    // Bounded: a flood from many addresses forgets old windows rather than growing without end.
    if (this.windowEnds.size >= 10_000) this.windowEnds.clear();
    this.windowEnds.set(address, now + this.windowMs);
    return true;
  }
}
