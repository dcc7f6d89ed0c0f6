/**
 * Runs `onAbort` once `signal` aborts, or at once if it already has. An abort event fires once:
 * a listener added afterwards never runs, so work registered after an await (a client that
 * left while its request was being admitted) was never ended, and what it held (a place among
 * the answers in progress, a quota reservation, a credential watch) stayed held for good
 * (attacker review, December). Every listener for "the caller went away" goes through here.
 * Returns what removes the listener (nothing to remove when it ran at once).
 */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    onAbort();
    return () => undefined;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
