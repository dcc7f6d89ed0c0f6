/**
 * A model server may be Sluice itself: a tenant can give a model the `baseUrl` of this
 * deployment's OpenAI-compatible door (and an API key of its own), with an endpoint answering
 * by that same model. One question then recursed, each level a new request, until rate limits
 * stopped it (about 190 requests in 15 s). Every model call carries `Sluice-Hop` with this
 * deployment's mark, and every door refuses a request that carries it (LOOP_DETECTED, 508),
 * before anything else reads it. The mark is derived from the master key, so every instance of
 * a deployment shares it, and it says nothing of the key. Another deployment's calls (a
 * different mark) are ordinary requests.
 */
import { createHmac } from 'node:crypto';
import { RequestRefusal } from '../errors/request-refusal.js';

export const HOP_HEADER = 'sluice-hop';

/** This deployment's mark, from its master key. */
export function hopMarkOf(masterKey: Buffer): string {
  return createHmac('sha256', masterKey).update('sluice model call hop mark').digest('base64url').slice(0, 24);
}

/** The refusal for a request carrying `mark`, or null. */
export function loopRefusal(request: Request, mark: string | undefined): RequestRefusal | null {
  if (!mark || request.headers.get(HOP_HEADER) !== mark) return null;
  return new RequestRefusal('LOOP_DETECTED', 'This request is a model call this Sluice deployment made itself: a model whose baseUrl is this deployment would answer by asking itself again');
}
