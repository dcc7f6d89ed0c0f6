/**
 * Keyset pagination on (created_at, id), the order every listing in Sluice uses. Cursors are
 * opaque to clients; a cursor that does not decode is a BAD_USER_INPUT, not a 500.
 */
import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import { boundSql } from '../db/bound-sql.js';
import { isDateTimeInRange } from '../platform/input/date-times.js';
import { ValidationError } from './errors.js';
import { isUuid } from './ids.js';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export interface PageRequest {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  cursorOf(item: T): string;
}

interface Keyed {
  id: string;
  createdAt: Date;
}

export function encodeCursor(item: Keyed): string {
  return Buffer.from(JSON.stringify([item.createdAt.toISOString(), item.id])).toString('base64url');
}

/** Cursors this module writes are under 100 characters; a longer one is not decoded (nor echoed). */
const CURSOR_MAX = 512;

/**
 * The (created_at, id) a cursor holds, checked whole before it reaches SQL: an id that is not a
 * UUID, or an instant PostgreSQL does not take, was INTERNAL (with the SQL, outside
 * production) rather than the caller's mistake. Every paged table is keyed by a UUID.
 */
export function decodeCursor(cursor: string): Keyed {
  if (cursor.length > CURSOR_MAX) throw new ValidationError(`Invalid pagination cursor: at most ${CURSOR_MAX} characters`, { field: 'cursor' });
  const invalid = () => new ValidationError('Invalid pagination cursor', { cursor });
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw invalid();
  const [createdAt, id] = decoded as unknown[];
  if (typeof createdAt !== 'string' || typeof id !== 'string' || !isUuid(id)) throw invalid();
  const date = new Date(createdAt);
  if (!isDateTimeInRange(date)) throw invalid();
  return { createdAt: date, id };
}

export async function keysetPage<T extends Keyed & object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  request: PageRequest,
  options: { populate?: string[] } = {},
): Promise<Page<T>> {
  const { backward, size } = directionOf(request);
  const bounds: FilterQuery<T>[] = [];
  if (request.after) bounds.push(beyond(decodeCursor(request.after), '$gt'));
  if (request.before) bounds.push(beyond(decodeCursor(request.before), '$lt'));
  const direction = backward ? 'desc' : 'asc';
  const rows = await em.find(entity, { $and: [where, ...bounds] } as FilterQuery<T>, {
    orderBy: { createdAt: direction, id: direction } as never,
    limit: size + 1,
    populate: options.populate as never,
  });
  return pageOf(rows, request, backward, size);
}

/**
 * The same page, read with one SQL statement returning plain rows instead of entities (about
 * 1.4 ms of CPU less per list: no query builder, no hydration, nothing for the commit to
 * compare). `select` names the columns as the row's properties (`created_at as "createdAt"`)
 * and reads from `from`; `where` holds `?` parameters. `created_at` must hold milliseconds
 * at most, as the application's clock writes them (cursors carry milliseconds). Timestamps
 * arrive as text and become Dates; `convert` shapes anything else.
 */
export async function keysetRows<T extends Keyed>(
  em: EntityManager,
  sql: { select: string; from: string; where: string; params: Knex.RawBinding[] },
  request: PageRequest,
  convert: (row: T) => T = (row) => row,
): Promise<Page<T>> {
  const { backward, size } = directionOf(request);
  const bounds: string[] = [];
  const params = [...sql.params];
  for (const [cursor, op] of [[request.after, '>'], [request.before, '<']] as const) {
    if (!cursor) continue;
    const key = decodeCursor(cursor);
    bounds.push(`(created_at, id) ${op} (?::timestamptz, ?::uuid)`);
    params.push(key.createdAt.toISOString(), key.id);
  }
  const direction = backward ? 'desc' : 'asc';
  const rows = await boundSql<T>(
    em,
    `select ${sql.select} from ${sql.from} where ${[sql.where, ...bounds].join(' and ')} order by created_at ${direction}, id ${direction} limit ?`,
    [...params, size + 1],
  );
  // The rows are this call's own: their timestamp becomes a Date in place.
  for (const row of rows) row.createdAt = new Date(row.createdAt);
  return pageOf(rows.map(convert), request, backward, size);
}

function directionOf(request: PageRequest): { backward: boolean; size: number } {
  if (request.first != null && request.last != null) {
    throw new ValidationError('Pass either `first` or `last`, not both');
  }
  const backward = request.last != null || (request.before != null && request.first == null);
  const size = backward ? (request.last ?? DEFAULT_PAGE_SIZE) : (request.first ?? DEFAULT_PAGE_SIZE);
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw new ValidationError(`Page size must be between 0 and ${MAX_PAGE_SIZE}`, { max: MAX_PAGE_SIZE });
  }
  return { backward, size };
}

function pageOf<T extends Keyed>(rows: T[], request: PageRequest, backward: boolean, size: number): Page<T> {
  const more = rows.length > size;
  const items = rows.slice(0, size);
  if (backward) items.reverse();
  return {
    items,
    hasNextPage: backward ? Boolean(request.before) : more,
    hasPreviousPage: backward ? more : Boolean(request.after),
    cursorOf: encodeCursor,
  };
}

function beyond<T>(key: Keyed, op: '$gt' | '$lt'): FilterQuery<T> {
  return {
    $or: [{ createdAt: { [op]: key.createdAt } }, { createdAt: key.createdAt, id: { [op]: key.id } }],
  } as FilterQuery<T>;
}
