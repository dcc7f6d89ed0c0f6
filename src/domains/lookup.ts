/** Loading rows for a DataLoader batch. */
import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * The rows with these ids in one query, in the order asked, null where there is none (or it
 * is another tenant's: the tenant filter and RLS hide it).
 */
export async function findByIds<T extends { id: string }>(em: EntityManager, entity: EntityName<T>, ids: readonly string[]): Promise<(T | null)[]> {
  if (ids.length === 0) return [];
  const found = await em.find(entity, { id: { $in: [...ids] } } as unknown as FilterQuery<T>);
  const byId = new Map(found.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}
