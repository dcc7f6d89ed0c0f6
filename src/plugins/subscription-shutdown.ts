import { isAsyncIterable, Repeater, type Plugin } from 'graphql-yoga';

export interface SubscriptionShutdownOptions {
  /** Aborted when the server begins to shut down. */
  signal: AbortSignal;
}

/**
 * Completes every active subscription when the server shuts down, so SSE clients see a normal
 * end of stream and graphql-ws clients a `complete` before the socket closes (1001).
 */
export function useSubscriptionShutdown({ signal }: SubscriptionShutdownOptions): Plugin {
  return {
    onSubscribe() {
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(endOnAbort(result, signal));
        },
      };
    },
  };
}

/**
 * `source`, ending early when `signal` aborts, after `lastWords(reason)` if given (e.g. an
 * error result telling the client why). A Repeater (not an async generator) so that a
 * consumer's `return()` takes effect at once rather than after the source's next event.
 */
export function endOnAbort<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
  lastWords?: (reason: unknown) => T,
): AsyncIterableIterator<T> {
  return new Repeater<T>(async (push, stop) => {
    const iterator = source[Symbol.asyncIterator]();
    let stopped = false;
    const onAbort = () => {
      // Values pushed before stop() are still delivered.
      if (lastWords) void push(lastWords(signal.reason)).catch(() => {});
      stop();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    void stop.then(() => {
      stopped = true;
      signal.removeEventListener('abort', onAbort);
      return iterator.return?.();
    });
    try {
      while (!stopped) {
        const next = await iterator.next();
        if (next.done || stopped) break;
        await push(next.value);
      }
      stop();
    } catch (error) {
      stop(error);
    }
  });
}
