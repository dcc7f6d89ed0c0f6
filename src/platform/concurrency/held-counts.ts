/**
 * Things held at once per key and by every key together, taken and given back by whoever holds
 * them, with no waiting: past either bound `take` says no at once. For what lasts as long as a
 * client likes (an answer streamed to a reader who never reads), where a line to wait in would
 * only hold the waiters' connections too. In this process only: what it bounds (sockets,
 * memory, upstream connections) is this process's own.
 */
import { Gauge, type Registry } from 'prom-client';

export interface HeldCountLimits {
  /** Held at once by one key. */
  perKey: number;
  /** Held at once by every key together. */
  total: number;
}

/** Gives back what `take` handed out; later calls do nothing, so every way an answer ends may call it. */
export type GiveBack = () => void;

/** A gauge of what is held now by every key together, on a registry (/metrics). */
export interface HeldCountGauge {
  registry: Registry;
  name: string;
  help: string;
}

export class HeldCounts {
  private readonly byKey = new Map<string, number>();
  private all = 0;

  constructor(
    readonly limits: HeldCountLimits,
    gauge?: HeldCountGauge,
  ) {
    const counts = this;
    if (gauge) {
      new Gauge({
        name: gauge.name,
        help: gauge.help,
        registers: [gauge.registry],
        collect() {
          this.set(counts.all);
        },
      });
    }
  }

  /** One more for `key`, or which bound refused it. */
  take(key: string): { giveBack: GiveBack } | { full: 'key' | 'total' } {
    const held = this.byKey.get(key) ?? 0;
    if (held >= this.limits.perKey) return { full: 'key' };
    if (this.all >= this.limits.total) return { full: 'total' };
    this.byKey.set(key, held + 1);
    this.all += 1;
    let given = false;
    return {
      giveBack: () => {
        if (given) return;
        given = true;
        this.all -= 1;
        const left = (this.byKey.get(key) ?? 1) - 1;
        if (left === 0) this.byKey.delete(key);
        else this.byKey.set(key, left);
      },
    };
  }

  /** Held now by `key`. */
  heldBy(key: string): number {
    return this.byKey.get(key) ?? 0;
  }

  /** Held now by every key together (a gauge's value). */
  held(): number {
    return this.all;
  }
}
