/**
 * The person who answers for what an actor makes (an API key, an invitation, an identity
 * provider): what was made is held to that person's role, and ends when they leave.
 */
import { ForbiddenError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';
import { heldMembership } from '../tenancy/held-membership.js';
import { ApiKey } from './api-key.entity.js';
import { IdentityProvider } from './identity-provider.entity.js';

/**
 * Who answers for what the actor is about to make, their membership in the actor's tenant held
 * until the transaction ends (tenancy/held-membership.ts): a removal running meanwhile waits,
 * then finds what was made and ends it with the rest of theirs; one that came first refuses
 * this. Call it before the action takes other locks (ApiKeyService.rotate).
 */
export async function heldAnswerablePerson(ctx: ServiceContext): Promise<string | null> {
  const personId = await personBehind(ctx);
  if (personId === null || ctx.actor.kind === 'anonymous') return personId;
  if (!(await heldMembership(ctx.em, personId, ctx.actor.tenantId))) {
    throw new ForbiddenError('The person this request acts for is no longer a member of this tenant', { reason: 'no-membership' });
  }
  return personId;
}

/**
 * The signed-in user; for a key, the key's creator; for an external identity, the person who
 * registered (or last enabled) its provider. Null when no person answers: a key the operator
 * minted, or a provider registered before registrars were recorded. This way a key or an
 * external identity cannot launder its person's authority into something that follows nobody.
 */
async function personBehind(ctx: ServiceContext): Promise<string | null> {
  const { actor, em } = ctx;
  switch (actor.kind) {
    case 'user':
      return actor.userId;
    case 'apiKey':
      return (await em.findOne(ApiKey, { id: actor.apiKeyId }))?.createdBy?.id ?? null;
    case 'external':
      return (await em.findOne(IdentityProvider, { issuer: actor.issuer }))?.registeredBy?.id ?? null;
    default:
      return null;
  }
}
