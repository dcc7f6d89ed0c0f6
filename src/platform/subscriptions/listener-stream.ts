/**
 * A subscriber's stream, fed by a shared topic (topic-readers.ts). A Repeater rather than an
 * async generator: an async generator parked in an `await` (a poll, a bus event) does not see
 * `return()` until it next yields, so a quiet subscription whose socket closed would keep its
 * reader forever. A Repeater ends on `return()` at once, and leaving the topic follows.
 */
import { Repeater } from 'graphql-yoga';
import type { TopicMembership } from './topic-readers.js';

export interface ListenerControls<T> {
  /** Queues a value for the consumer. */
  send(value: T): void;
  /** Ends the stream (with an error, if given). */
  end(error?: unknown): void;
  /** Whether the consumer has gone (nothing more need be read for it). */
  ended(): boolean;
}

/**
 * Runs `start` when the consumer first asks for a value; `start` sends what the subscriber
 * sees first and joins its topic. The membership is left when the stream ends, however it ends.
 */
export function listenerStream<T>(start: (controls: ListenerControls<T>) => Promise<TopicMembership | undefined>): AsyncIterableIterator<T> {
  return new Repeater<T>(async (push, stop) => {
    let stopped = false;
    void stop.then(() => (stopped = true));
    const controls: ListenerControls<T> = {
      send: (value) => {
        try {
          void push(value).catch(() => undefined);
        } catch (error) {
          // More than the Repeater's queue (1024) unread: a consumer this far behind is cut.
          stop(error);
        }
      },
      end: (error) => stop(error),
      ended: () => stopped,
    };
    const membership = await start(controls);
    await stop;
    membership?.leave();
  });
}
