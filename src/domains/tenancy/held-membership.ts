/**
 * A membership held `for share` until the request's transaction ends, for actions whose result
 * lives on only while its person is a member: moving or opening a session in a tenant, and
 * making keys, invitations or identity providers a person answers for. A removal (or a
 * demotion) changes the row, so it waits for the action and then finds what the action made
 * (its sessions, keys, invitations and providers are read after the row); one that came first
 * is seen: the row gone, or its new role. Read without the lock, an action racing
 * `removeMember` left a session moved into the tenant, or a key made there, that outlived the
 * removal and worked again once the person was invited back (attacker review).
 *
 * Take it before the action's other locks: a removal holds the membership, then the person's
 * sessions, keys and invitations (members.service.ts); holding one of those first and then
 * waiting here deadlocked against it.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Membership } from './membership.entity.js';

/** `userId`'s membership in `tenantId`, held and read once held; null when there is none. Call it inside that tenant (RLS). */
export async function heldMembership(em: EntityManager, userId: string, tenantId: string): Promise<Membership | null> {
  // Locked in plain SQL, then read: the ORM's `lockMode` would lock its own joined query, and
  // after a wait PostgreSQL re-checks joined rows against the old snapshot (identity/session-lock.ts).
  const [row] = await em.execute<{ id: string }[]>('select id from memberships where user_id = ? and tenant_id = ? for share', [userId, tenantId]);
  if (!row) return null;
  return em.findOne(Membership, { id: row.id }, { refresh: true, populate: ['tenant'], filters: false });
}
