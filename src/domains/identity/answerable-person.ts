/**
 * The person who answers for what an actor makes (an API key, an invitation, an identity
 * provider): what was made is held to that person's role, and ends when they leave.
 */
import type { ServiceContext } from '../service-context.js';
import { ApiKey } from './api-key.entity.js';
import { IdentityProvider } from './identity-provider.entity.js';

/**
 * The signed-in user; for a key, the key's creator; for an external identity, the person who
 * registered (or last enabled) its provider. Null when no person answers: a key the operator
 * minted, or a provider registered before registrars were recorded. This way a key or an
 * external identity cannot launder its person's authority into something that follows nobody.
 */
export async function answerablePersonId(ctx: ServiceContext): Promise<string | null> {
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
