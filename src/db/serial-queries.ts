/**
 * One query at a time on each of the ORM's connections, queued here rather than inside
 * node-postgres.
 *
 * A GraphQL operation runs in one transaction, so on one connection, and GraphQL resolves
 * sibling fields concurrently: `{ datasets { … } endpoints { … } models { … } }` sends three
 * queries to that connection at once. node-postgres has queued such calls itself, but pg 8.19
 * deprecated that queue (a DeprecationWarning in the server's output) and pg 9 removes it.
 * This queue keeps the same order (first called, first sent) and releases on the query's
 * callback, whether it succeeded or failed.
 *
 * Queries given as a submittable (a cursor or a COPY stream), or with their callback inside
 * the config, are passed through: their end is not a callback or promise this queue can wait
 * on, and the ORM (knex) sends neither.
 */
import type pg from 'pg';

type Callback = (error: Error | null, result?: unknown) => void;

/** Installs the queue on `client` (the ORM pool's `afterCreate`). Idempotent. */
export function serialiseQueries(client: pg.Client): void {
  const marked = client as pg.Client & { [SERIALISED]?: true };
  if (marked[SERIALISED]) return;
  marked[SERIALISED] = true;
  const send = client.query.bind(client) as (...args: unknown[]) => unknown;
  let tail: Promise<void> = Promise.resolve();

  const queued = (...args: unknown[]): unknown => {
    if (passedThrough(args[0])) return send(...args);
    const lastIndex = args.length - 1;
    const callback = typeof args[lastIndex] === 'function' ? (args[lastIndex] as Callback) : undefined;
    const params = callback ? args.slice(0, lastIndex) : args;
    const run = () =>
      new Promise<unknown>((resolve, reject) => {
        if (!callback) return void (send(...params) as Promise<unknown>).then(resolve, reject);
        send(...params, (error: Error | null, result?: unknown) => {
          resolve(undefined);
          callback(error, result);
        });
      });
    const turn = tail.then(run);
    // The next query waits for this one to end, however it ends.
    tail = turn.then(ignore, ignore);
    if (!callback) return turn;
    // Only a call pg refused before sending (it throws) reaches here: the callback hears of it.
    turn.catch((error: Error) => callback(error));
    return undefined;
  };
  (client as { query: unknown }).query = queued;
}

const SERIALISED = Symbol('sluice.serialisedQueries');

/** A submittable, or a config carrying its own callback (pg then returns nothing to wait on). */
function passedThrough(config: unknown): boolean {
  if (typeof config !== 'object' || config === null) return false;
  const { submit, callback } = config as { submit?: unknown; callback?: unknown };
  return typeof submit === 'function' || typeof callback === 'function';
}

function ignore(): void {}
