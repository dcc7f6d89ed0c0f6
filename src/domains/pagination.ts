/**
 * Keyset pagination on (created_at, id), the order every listing in Sluice uses. Cursors are
 * opaque to clients; a cursor that does not decode is a BAD_USER_INPUT, not a 500.
 */
import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from './errors.js';

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

export function decodeCursor(cursor: string): Keyed {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(createdAt);
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) throw new Error('bad cursor');
    return { createdAt: date, id };
  } catch {
    throw new ValidationError('Invalid pagination cursor', { cursor });
  }
}

export async function keysetPage<T extends Keyed & object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  request: PageRequest,
  options: { populate?: string[] } = {},
): Promise<Page<T>> {
  if (request.first != null && request.last != null) {
    throw new ValidationError('Pass either `first` or `last`, not both');
  }
  const backward = request.last != null || (request.before != null && request.first == null);
  const size = backward ? (request.last ?? DEFAULT_PAGE_SIZE) : (request.first ?? DEFAULT_PAGE_SIZE);
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw new ValidationError(`Page size must be between 0 and ${MAX_PAGE_SIZE}`, { max: MAX_PAGE_SIZE });
  }
  const bounds: FilterQuery<T>[] = [];
  if (request.after) bounds.push(beyond(decodeCursor(request.after), '$gt'));
  if (request.before) bounds.push(beyond(decodeCursor(request.before), '$lt'));
  const direction = backward ? 'desc' : 'asc';
  const rows = await em.find(entity, { $and: [where, ...bounds] } as FilterQuery<T>, {
    orderBy: { createdAt: direction, id: direction } as never,
    limit: size + 1,
    populate: options.populate as never,
  });
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
