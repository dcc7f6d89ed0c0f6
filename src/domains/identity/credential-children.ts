/**
 * What a credential makes ends with it. A key or an external identity that mints an API key or
 * sends an invitation is recorded as its parent; revoking the key, or disabling or removing the
 * provider, revokes those children (and what they made in turn) in the same transaction, each
 * with an audit event naming the reason. Otherwise a revoked credential could leave behind a
 * live one credited to a real person (attacker review: an ADMIN key minted keys and invitations
 * that outlived its revocation). Expiry needs no cascade: a child ends no later than its parent
 * (credential-lifetimes.ts).
 */
import { auditChange } from '../audit/record.js';
import type { ServiceContext } from '../service-context.js';
import { Invitation } from '../tenancy/invitation.entity.js';
import { INVITATION_MARKS } from '../tenancy/members.service.js';
import { shownKey } from './api-key-audit.js';
import { ApiKey } from './api-key.entity.js';
import { keyChainOf } from './credential-lifetimes.js';
import { IdentityProvider } from './identity-provider.entity.js';

/** The credential behind the current actor, if it is not a person's own sign-in. */
export interface ParentCredential {
  apiKeyId: string | null;
  providerId: string | null;
  /**
   * The latest a key or invitation it makes may live: a parent key's end, and the ends of the
   * keys above it (credential-lifetimes.ts). Null: no bound (a person, a provider, or a key
   * chain none of which expires).
   */
  notAfter: Date | null;
}

export async function parentCredentialOf(ctx: ServiceContext): Promise<ParentCredential> {
  const { actor, em } = ctx;
  if (actor.kind === 'apiKey') return { apiKeyId: actor.apiKeyId, providerId: null, notAfter: (await keyChainOf(em, actor.apiKeyId)).endsAt };
  if (actor.kind === 'external') {
    const provider = await em.findOne(IdentityProvider, { issuer: actor.issuer });
    return { apiKeyId: null, providerId: provider?.id ?? null, notAfter: null };
  }
  return { apiKeyId: null, providerId: null, notAfter: null };
}

export type ChildrenEndedBecause = 'parent-key-revoked' | 'provider-disabled' | 'provider-removed';

/**
 * Revokes the live keys and pending invitations `parent` made, then those its keys made, down
 * the line. Call it before removing a provider: the link is set null when the row goes.
 */
export async function endChildrenOf(ctx: ServiceContext, parent: { apiKeyId: string } | { providerId: string }, reason: ChildrenEndedBecause): Promise<void> {
  const { em } = ctx;
  const now = new Date();
  const revokedKeys: { key: ApiKey; before: ReturnType<typeof shownKey> }[] = [];
  const makers: string[] = 'apiKeyId' in parent ? [parent.apiKeyId] : [];
  let generation = await em.find(ApiKey, { ...('apiKeyId' in parent ? { createdByApiKey: parent.apiKeyId } : { createdByProvider: parent.providerId }), revokedAt: null });
  while (generation.length > 0) {
    for (const key of generation) {
      makers.push(key.id);
      // An expired key needs no revoking, but what it made may still be live: walk through it.
      if (key.expiresAt && key.expiresAt <= now) continue;
      revokedKeys.push({ key, before: shownKey(key) });
      key.revokedAt = now;
    }
    await em.flush();
    generation = await em.find(ApiKey, { createdByApiKey: { $in: generation.map((key) => key.id) }, revokedAt: null });
  }
  const sources = [...('providerId' in parent ? [{ createdByProviderId: parent.providerId }] : []), ...(makers.length ? [{ createdByApiKeyId: { $in: makers } }] : [])];
  const invitations = await em.find(Invitation, { $or: sources, acceptedAt: null, revokedAt: null, expiresAt: { $gt: now } });
  for (const invitation of invitations) invitation.revokedAt = now;
  await em.flush();
  for (const { key, before } of revokedKeys) auditChange(ctx, 'apiKey.revoke', { type: 'ApiKey', id: key.id }, before, { ...shownKey(key), reason });
  for (const invitation of invitations) {
    const before = { email: invitation.email, role: invitation.role, revokedAt: null };
    auditChange(ctx, 'member.invitation.revoke', { type: 'Invitation', id: invitation.id }, before, { ...before, revokedAt: now, reason }, INVITATION_MARKS);
  }
}
