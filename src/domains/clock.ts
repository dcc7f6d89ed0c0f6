/**
 * The time services decide by (rate windows, quotas, blocks). Injected so tests can move it
 * instead of sleeping; production uses the system clock.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
