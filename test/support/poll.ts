/**
 * Waiting on state that announces nothing: a job's stage read through the API, a metric, Redis's
 * subscriber count. Where an event exists (a log line, a subscription message) tests await it
 * instead. Each read starts after the previous one ends, `intervalMs` apart; past `timeoutMs` the
 * wait fails with `failure(last value read)`, so a stuck wait says what it saw.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { failure: (last: T) => string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(options.failure(value));
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}
