/** One watch of the credential watch (credential-watch.ts's LiveWatch). */
interface Held {
  signal: AbortSignal;
  end(): void;
}

/**
 * A query or mutation's hold on the credential watch (context.standing; RequestFacts.standing
 * for its services). The services ask for the signal (`held`) only for what may run long, and
 * only while the operation executes: the first ask starts watching, the end of execution (its
 * last incremental part) stops it. plugins/credential-watch.ts opens and closes it.
 */
export class OperationStanding {
  private start: (() => Held) | undefined;
  private live: Held | undefined;

  /** The signal the operation must end on, watched from now; undefined outside its execution. */
  held(): AbortSignal | undefined {
    if (!this.start) return undefined;
    return (this.live ??= this.start()).signal;
  }

  /** Execution began: `held()` watches through `start`. */
  open(start: () => Held): void {
    this.start = start;
  }

  /** Execution ended: nothing is watched any longer. */
  close(): void {
    this.start = undefined;
    this.live?.end();
    this.live = undefined;
  }
}
