/**
 * Every change to a session (refreshSession, switchTenant, acceptInvitation's move, logOut)
 * holds its row, `select … for update`, for the rest of the request's transaction, and reads it
 * afresh once held. Concurrent changes to one session so run one after the other, each on what
 * the one before it committed. Without it a refresh and a signed-in acceptInvitation each read
 * the session, then wrote from what they had read: the refresh's successor token escaped the
 * move's rotation (two live chains), or the refresh rotated a chain the move had just replaced.
 * (A removal's `endSessionsOfFormerMember` is one conditional UPDATE: it waits for the row too.)
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError } from '../errors.js';
import { Session } from './session.entity.js';

/** Refresh tokens' `used_by`: what used one up. */
export type RefreshTokenUse = 'refresh' | 'move';

/** The session `id`, its row held until the transaction ends, read after the lock was granted; null if gone. */
export async function lockedSession(em: EntityManager, id: string, populate: ('user' | 'activeTenant')[] = ['user']): Promise<Session | null> {
  // Locked in plain SQL, then read (`refresh`: a copy in the unit of work was read before the
  // lock). The ORM's `lockMode` would lock its own query, joins and all, and after a wait
  // PostgreSQL re-checks joined rows against the old snapshot (see ApiKeyService.lockedKey).
  await em.execute('select 1 from sessions where id = ? for update', [id]);
  const session = await em.findOne(Session, { id }, { refresh: true });
  if (session) await em.populate(session, populate);
  return session;
}

/**
 * What a refresh gets when its token, unused when it looked, was used up by a move of the
 * session (acceptInvitation) that committed while it waited: a race lost, not a stolen copy, so
 * the session carries on with the tokens the move returned.
 */
export const sessionChanged = () =>
  new ConflictError('The session changed while this refresh waited (an invitation accepted at the same time): use the tokens that request returned', {
    reason: 'session-changed',
  });

/** Who used up the refresh token `id`, read now (after waiting for the session's row). */
export async function usedBy(em: EntityManager, id: string): Promise<RefreshTokenUse | null> {
  const [row] = await em.execute<{ used_by: RefreshTokenUse | null }[]>('select used_by from refresh_tokens where id = ?', [id]);
  return row?.used_by ?? null;
}
