/**
 * At most `slots` pieces of work at once per key, the rest waiting in order, a bounded number
 * of them for a bounded time. In this process only: what it shares out (the database pool's
 * connections) is this process's own.
 */
export interface KeyedSlotOptions {
  /** Pieces of work one key may run at once. */
  slots: number;
  /** Pieces of work one key may have waiting; one more is refused at once. */
  maxWaiting: number;
  /** Longest one piece of work waits for a slot before it is refused. */
  waitMs: number;
}

/** Slots per key, and slots for all keys together: work takes one of each (`runShared`). */
export interface SharedSlots {
  perCaller: KeyedSlots;
  all: KeyedSlots;
}

/** `work` once `key` has a slot of its own and one of all keys' is free: its key's first, so one key's line waits there, not in everyone's. */
export function runShared<T>(slots: SharedSlots, key: string, work: () => Promise<T>): Promise<T> {
  return slots.perCaller.run(key, () => slots.all.run('all', work));
}

/** Why a piece of work was not let run: too many already waiting, or its wait ran out. */
export class SlotsBusyError extends Error {
  override readonly name = 'SlotsBusyError';
  constructor(readonly reason: 'waiting-full' | 'wait-expired') {
    super(reason === 'waiting-full' ? 'too many waiting' : 'waited too long');
  }
}

interface KeyState {
  running: number;
  waiting: { admit: () => void }[];
}

export class KeyedSlots {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly options: KeyedSlotOptions) {}

  /** Runs `work` once `key` has a slot free; throws SlotsBusyError when it cannot get one. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    await this.acquire(key);
    try {
      return await work();
    } finally {
      this.release(key);
    }
  }

  /** Work running and waiting for `key` (for tests and diagnostics). */
  load(key: string): { running: number; waiting: number } {
    const state = this.keys.get(key);
    return { running: state?.running ?? 0, waiting: state?.waiting.length ?? 0 };
  }

  private acquire(key: string): Promise<void> {
    let state = this.keys.get(key);
    if (!state) this.keys.set(key, (state = { running: 0, waiting: [] }));
    if (state.running < this.options.slots) {
      state.running += 1;
      return Promise.resolve();
    }
    if (state.waiting.length >= this.options.maxWaiting) return Promise.reject(new SlotsBusyError('waiting-full'));
    const queue = state.waiting;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        admit: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(waiter), 1);
        reject(new SlotsBusyError('wait-expired'));
      }, this.options.waitMs);
      queue.push(waiter);
    });
  }

  private release(key: string): void {
    const state = this.keys.get(key)!;
    // The slot passes straight to the next in line: nothing arriving meanwhile can take it first.
    const next = state.waiting.shift();
    if (next) return next.admit();
    state.running -= 1;
    if (state.running === 0) this.keys.delete(key);
  }
}
