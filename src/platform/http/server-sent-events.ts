/**
 * A Server-Sent Events response body (the `text/event-stream` format of the HTML standard):
 * each event `event: <name>` + `data: <one line of JSON>`, a comment line as keep-alive while
 * the source is quiet (so proxies that close idle connections do not cut a slow answer).
 *
 * Pull-based: the next event is asked for only when the previous one was taken, so a slow
 * client slows the source instead of filling memory. The source decides how it ends (a final
 * failure event is the source's to yield); this only writes.
 */

export interface ServerSentEvent {
  event: string;
  data: unknown;
}

export const EVENT_STREAM = 'text/event-stream';

export interface EventStreamOptions {
  /** A `: keep-alive` comment after this long without an event. @default 15000 */
  keepAliveMs?: number;
  /** Called once when the stream ends: the source finished or failed, or the reader cancelled. */
  onEnd?: (how: 'done' | 'error' | 'cancelled', error?: unknown) => void;
}

/** One event as it goes on the wire; JSON.stringify escapes newlines, so `data` is one line. */
export function formatServerSentEvent({ event, data }: ServerSentEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function eventStreamBody(source: AsyncIterator<ServerSentEvent>, { keepAliveMs = 15_000, onEnd }: EventStreamOptions = {}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let ended = false;
  const end = (how: 'done' | 'error' | 'cancelled', error?: unknown) => {
    clearInterval(timer);
    if (ended) return;
    ended = true;
    onEnd?.(how, error);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setInterval(() => {
        if (!ended) controller.enqueue(encoder.encode(': keep-alive\n\n'));
      }, keepAliveMs);
      timer.unref?.();
    },
    async pull(controller) {
      try {
        const next = await source.next();
        if (ended) return;
        if (next.done) {
          end('done');
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(formatServerSentEvent(next.value)));
      } catch (error) {
        end('error', error);
        controller.error(error);
      }
    },
    async cancel() {
      end('cancelled');
      await source.return?.();
    },
  });
}

/**
 * Whether `Accept` prefers `text/event-stream` to JSON: it names the event stream with a
 * weight above JSON's (`application/json`, `application/*` or `*\/*`). A tie, or no Accept,
 * is JSON, the default answer.
 */
export function prefersEventStream(accept: string | null): boolean {
  if (!accept) return false;
  let stream = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const weight = parameters.find((parameter) => parameter.startsWith('q='));
    const q = weight ? Number(weight.slice(2)) || 0 : 1;
    if (type === EVENT_STREAM) stream = Math.max(stream, q);
    if (type === 'application/json' || type === 'application/*' || type === '*/*') json = Math.max(json, q);
  }
  return stream > 0 && stream > json;
}
