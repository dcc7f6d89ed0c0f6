/**
 * A model's row locked, so that "is it used?" and "use it" cannot pass each other.
 *
 * Deleting a model, or changing the settings that decide its vectors, asks which endpoints and
 * datasets use it (ModelService), then acts. A mutation that makes an endpoint or a dataset use
 * it commits in between unseen: its foreign key then either failed (an internal error to its
 * caller) or, for a dataset's `on delete set null`, was silently cleared after the mutation had
 * answered the model (test/endpoints/model-delete-race.test.ts). So the mutation that picks a
 * model reads it FOR SHARE, and the one that checks its users takes it FOR UPDATE (delete) or
 * FOR NO KEY UPDATE (settings) before asking: whichever comes second waits for the first to
 * commit and then sees what it did (READ COMMITTED re-reads a locked row, and a new statement
 * sees the other's committed rows). FOR SHARE rather than KEY SHARE because a settings change
 * does not touch the key; a model's health checks wait for a picking mutation, briefly.
 *
 * The lock is taken with SQL, then the row is read, as ingestion/job-lock.ts does.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import { Model } from './model.entity.js';

export type ModelLock = 'share' | 'no key update' | 'update';

/** The model `id`, row-locked in `mode` until the transaction ends; null when no such model (of the tenant) exists. */
export async function lockedModel(em: EntityManager, id: string, mode: ModelLock): Promise<Model | null> {
  if (!em.isInTransaction()) throw new Error('lockedModel needs a transaction: the lock lasts until it ends');
  // Row-level security limits the statement to the tenant's models; findOne applies the filter.
  const rows = await boundSql(em, `select 1 from models where id = ?::uuid for ${mode}`, [id]);
  if (rows.length === 0) return null;
  return em.findOne(Model, { id });
}
