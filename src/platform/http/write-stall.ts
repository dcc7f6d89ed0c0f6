/**
 * A write deadline, which node:http lacks: a response whose client takes none of its buffered
 * output for `stallMs` is destroyed. Without it, a client that asks for a streamed answer and
 * never reads holds the answer, its socket and its buffers forever (headers and request
 * deadlines end once the request is read; keep-alive only once the response is): about 175 KB
 * and a file descriptor each, until the process ran out of descriptors (attacker review,
 * December). Destroying the response closes it as a client who left would, so every route ends
 * its answer through its usual abort path (the request's signal: the query is recorded
 * CANCELLED).
 *
 * Progress is `drain`: whoever writes (whatwg-node's pump, for every Yoga response) waits for
 * it before writing more once `write` said the buffer is full, so a client that reads at all
 * drains it; one that reads nothing never does. The timer runs only while a response waits on
 * `drain`.
 */
import type { RequestListener, ServerResponse } from 'node:http';

export function withWriteStallDeadline(stallMs: number, next: RequestListener): RequestListener {
  return (req, res) => {
    cutWhenStalled(res, stallMs);
    return next(req, res);
  };
}

/** Destroys `res` once a write found its buffer full and `stallMs` passed with no `drain`. */
export function cutWhenStalled(res: ServerResponse, stallMs: number): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const write = res.write;
  // Wrapped on this one response, not patched on the prototype: `write`'s answer is the only
  // place a full buffer shows (`writableNeedDrain` announces nothing when it turns true).
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    const accepted = (write as (...args: unknown[]) => boolean).apply(this, args);
    if (!accepted && !timer && !res.destroyed) {
      timer = setTimeout(() => {
        timer = undefined;
        if (res.writableNeedDrain) res.destroy();
      }, stallMs);
      timer.unref();
    }
    return accepted;
  } as ServerResponse['write'];
  res.on('drain', stop);
  res.once('close', stop);
}
