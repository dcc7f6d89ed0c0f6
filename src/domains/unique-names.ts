/**
 * Names that tell a tenant's objects apart (a dataset's or an endpoint's slug, a model's name)
 * and other values a unique index guards: a taken one is a CONFLICT, never an internal error.
 */
import { UniqueConstraintViolationException, type EntityName, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError } from './errors.js';

/** Flushes; a unique-index violation becomes the ConflictError `conflict` builds. */
export async function flushOrConflict(em: EntityManager, conflict: () => ConflictError): Promise<void> {
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw conflict();
    throw error;
  }
}

export interface UniqueName {
  /**
   * Throws the conflict when another row (not `exceptId`) has `value`. Checked before flushing,
   * so a taken name does not abort the request's transaction.
   */
  assertFree(em: EntityManager, value: string, exceptId?: string): Promise<void>;
  /** Flushes. The check above can race another request; the unique index decides then. */
  flush(em: EntityManager, value: string): Promise<void>;
}

/**
 * The check and the flush for one unique field of an entity, both failing with the same
 * message (`taken(value)`) and `details.field`.
 */
export function uniqueName<T extends { id: string }>(entity: EntityName<T>, field: keyof T & string, taken: (value: string) => string): UniqueName {
  const conflict = (value: string) => new ConflictError(taken(value), { field });
  return {
    async assertFree(em, value, exceptId) {
      const where = (exceptId ? { [field]: value, id: { $ne: exceptId } } : { [field]: value }) as FilterQuery<T>;
      // 'commit': counting must not flush pending changes first (they may hold the taken name).
      if ((await em.count(entity, where, { flushMode: 'commit' })) > 0) throw conflict(value);
    },
    flush: (em, value) => flushOrConflict(em, () => conflict(value)),
  };
}
