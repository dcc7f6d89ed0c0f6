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
export function runShared<T>(slots: SharedSlots, key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return slots.perCaller.run(key, () => slots.all.run('all', work, signal), signal);
}

/** Why a piece of work was not let run: too many already waiting, its wait ran out, or whoever asked for it went away (its signal aborted) while it waited. */
export class SlotsBusyError extends Error {
  override readonly name = 'SlotsBusyError';
  constructor(readonly reason: 'waiting-full' | 'wait-expired' | 'abandoned') {
    super(reason === 'waiting-full' ? 'too many waiting' : reason === 'wait-expired' ? 'waited too long' : 'given up while waiting');
  }
}

interface KeyState {
  running: number;
  waiting: { admit: () => void }[];
}

export class KeyedSlots {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly options: KeyedSlotOptions) {}

  /**
   * Runs `work` once `key` has a slot free; throws SlotsBusyError when it cannot get one. An
   * aborted `signal` takes the work out of the line at once: a client that went away holds no
   * place another could have.
   */
  async run<T>(key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(key, signal);
    try {
      return await work();
    } finally {
      this.release(key);
    }
  }

  /** Work waiting for a slot, for every key together (a gauge's value). */
  waitingAll(): number {
    let waiting = 0;
    for (const state of this.keys.values()) waiting += state.waiting.length;
    return waiting;
  }

  /** Work running and waiting for `key` (for tests and diagnostics). */
  load(key: string): { running: number; waiting: number } {
    const state = this.keys.get(key);
    return { running: state?.running ?? 0, waiting: state?.waiting.length ?? 0 };
  }

  private acquire(key: string, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(new SlotsBusyError('abandoned'));
    let state = this.keys.get(key);
    if (!state) this.keys.set(key, (state = { running: 0, waiting: [] }));
    if (state.running < this.options.slots) {
      state.running += 1;
      return Promise.resolve();
    }
    if (state.waiting.length >= this.options.maxWaiting) return Promise.reject(new SlotsBusyError('waiting-full'));
    const queue = state.waiting;
    return new Promise<void>((resolve, reject) => {
      const leave = (reason: 'wait-expired' | 'abandoned') => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abandon);
        queue.splice(queue.indexOf(waiter), 1);
        reject(new SlotsBusyError(reason));
      };
      const abandon = () => leave('abandoned');
      const waiter = {
        admit: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', abandon);
          resolve();
        },
      };
      const timer = setTimeout(() => leave('wait-expired'), this.options.waitMs);
      signal?.addEventListener('abort', abandon, { once: true });
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
