/**
 * At most one request per process waits for a given lock (a job's row, a dataset's jobs);
 * the others are refused at once with UNAVAILABLE (`LOCK_BUSY`, Retry-After), holding nothing.
 *
 * A request that waits for a row lock holds a pooled connection all the while (at most the
 * request lock timeout: db/tenant-session.ts). Without this, one caller within its rate limit
 * could park every connection of the pool behind a worker's long transaction: ten
 * `cancelIngestion` calls during a large ingestion did, and every tenant waited. With it, the
 * connections waiting are at most the locks busy at once, which the workers' concurrency bounds.
 *
 * Module state: a set of keys being waited for, each removed when its wait ends, so nothing is
 * carried from one server (or test file) to the next.
 */
import { UnavailableError } from './errors.js';

const waiting = new Set<string>();

/** Runs `wait` (taking the lock named `key`) unless another request of this process already waits for it. */
export async function waitAlone<T>(key: string, wait: () => Promise<T>): Promise<T> {
  if (waiting.has(key)) {
    throw new UnavailableError('Another request is already waiting for the ingestion step in progress to end; send this one again shortly.', 'LOCK_BUSY', 2);
  }
  waiting.add(key);
  try {
    return await wait();
  } finally {
    waiting.delete(key);
  }
}
