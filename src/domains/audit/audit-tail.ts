/**
 * The live audit trail (`auditEvents`): one reader per tenant and filter however many ADMINs watch
 * (platform/subscriptions/topic-readers.ts). It reads what follows the furthest-behind
 * listener once per hint that the trail grew, or every `pollMs` failing hints, and hands each
 * listener the events it has not seen. Reads run in the tenant's scope (RLS applies).
 */
import { listenerStream } from '../../platform/subscriptions/listener-stream.js';
import type { TopicReaders } from '../../platform/subscriptions/topic-readers.js';

/** Reads of one tenant's trail, each in a short transaction of its own. */
export interface TrailSource {
  /** The newest event's `seq` now ('0' for an empty trail). */
  newest(): Promise<string>;
  /** Up to `limit` events after `seq`, oldest first. */
  after(seq: string, limit: number): Promise<{ seq: string }[]>;
}

interface TrailListener {
  source: TrailSource;
  /** The last `seq` this listener was sent. */
  after: bigint;
  deliver(row: { seq: string }): void;
}

const BATCH = 100;

export interface TailOptions {
  tenantId: string;
  /** Which of the tenant's trails: listeners with the same filter share one reader. */
  topic: string;
  readers: TopicReaders;
  hints?: { listen(tenantId: string): AsyncIterableIterator<unknown> };
  pollMs: number;
}

/** New events of the tenant from now on. */
export function tailTrail<Row extends { seq: string }>(source: TrailSource, { tenantId, topic, readers, hints, pollMs }: TailOptions): AsyncIterableIterator<Row> {
  return listenerStream<Row>(async ({ send, ended }) => {
    const listener: TrailListener = { source, after: -1n, deliver: (row) => send(row as Row) };
    // Joined before the start is read: the topic reads from the furthest-behind listener, so
    // nothing written in between is lost, and a listener not started yet is skipped.
    const membership = readers.join(`${tenantId}:audit:${topic}`, listener, pollMs, (topic) => {
      const heard = hints?.listen(tenantId);
      void (async () => {
        for await (const _ of heard ?? []) topic.wake();
      })().catch(() => undefined);
      return { read: (listeners) => readTrail(listeners), close: () => void heard?.return?.() };
    });
    try {
      if (!ended()) listener.after = BigInt(await source.newest());
    } catch (error) {
      membership.leave();
      throw error;
    }
    membership.wake();
    return membership;
  });
}

async function readTrail(listeners: readonly TrailListener[]): Promise<void> {
  for (;;) {
    const started = listeners.filter((listener) => listener.after >= 0n);
    if (started.length === 0) return;
    const from = started.reduce((least, listener) => (listener.after < least ? listener.after : least), started[0]!.after);
    const rows = await started[0]!.source.after(String(from), BATCH);
    for (const row of rows) {
      const seq = BigInt(row.seq);
      for (const listener of started) {
        if (seq <= listener.after) continue;
        listener.after = seq;
        listener.deliver(row);
      }
    }
    if (rows.length < BATCH) return;
  }
}
