/**
 * How many answers may be in progress at once, whatever door asked (GraphQL's `queryEndpoint`
 * and `endpointQuery`, REST, OpenAI-compatible, MCP's tool calls): each holds a socket to its
 * client, often one to the model's server, and its buffers, for as long as the model answers
 * (up to SLUICE_MODEL_ANSWER_TIMEOUT_MS) and the client reads. The rate limits bound how fast a
 * caller starts them, not how many it holds: one API key at 10 requests a second held about
 * 980 streams in 140 s (the process ran out of file descriptors and other tenants' connections
 * were reset), and one tenant held 566 sockets to a slow model (attacker reviews, December).
 *
 * Three bounds, each refused before anything runs (RATE_LIMITED, reason ANSWERS_IN_PROGRESS):
 *  - per caller (a user, an API key, an external identity; an anonymous caller: its address,
 *    IPv6 by its /64 as the address limit counts it): SLUICE_MAX_ANSWERS_PER_CALLER;
 *  - per tenant, SLUICE_MAX_ANSWERS_PER_TENANT, twice over: the answers a tenant's callers ask
 *    for (however many keys or identities it makes), and the answers a tenant's endpoints give
 *    (whoever asks: anonymous callers from any number of addresses included). Without it one
 *    tenant's keys, each within its share, held the whole process against a slow model of its
 *    own, and every other tenant was refused (attacker review, December);
 *  - per process: SLUICE_MAX_ANSWERS.
 * Taken from the query's admission to its answer's end, however it ends (query.service.ts).
 */
import { AnswerPlaces, type GiveBack } from '../../platform/concurrency/answer-places.js';

export { AnswerPlaces } from '../../platform/concurrency/answer-places.js';
import { ipIdentity, principalOf } from '../../platform/rate-limits/bucket-keys.js';
import { RateLimitedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';

export const ANSWERS_IN_PROGRESS = 'ANSWERS_IN_PROGRESS';

/** The endpoint's tenant, as its reference names it ("tenant-slug/endpoint-slug"); null for a reference that names none. */
function servingTenantOf(endpointRef: string): string | null {
  return /^([a-z0-9-]{1,64})\//.exec(endpointRef.trim())?.[1] ?? null;
}

/** A place for one more answer of the caller's, or RATE_LIMITED (reason ANSWERS_IN_PROGRESS); nothing to give back where none are counted. */
export function takeAnswerPlace(ctx: ServiceContext, endpointRef: string): GiveBack {
  const answers = ctx.deps.answersInProgress;
  if (!answers) return () => undefined;
  const { actor } = ctx;
  const caller = principalOf(actor) ?? `address:${ipIdentity(ctx.request?.ip ?? 'unknown')}`;
  const taken = answers.take(caller, { asking: actor.tenantId ?? null, serving: servingTenantOf(endpointRef) });
  if ('giveBack' in taken) return taken.giveBack;
  const { limits } = answers;
  // A second is about as long as a short answer takes; a held one ends when its client reads or leaves.
  const refuse = (message: string) => new RateLimitedError(message, 1, { reason: ANSWERS_IN_PROGRESS });
  switch (taken.full) {
    case 'total':
      throw refuse(`The server is answering as many queries as it holds at once (${limits.total}): retry in a second`);
    case 'asking':
      throw refuse(`Your tenant's callers have ${limits.perTenant} answers in progress, the most one tenant may hold at once: read or close one, then retry`);
    case 'serving':
      throw refuse(`This endpoint's tenant is giving ${limits.perTenant} answers at once, the most one tenant's endpoints may give: retry in a second`);
    case 'caller': {
      const whose = actor.kind === 'anonymous' ? 'from your address' : 'of yours';
      throw refuse(`${limits.perCaller} answers ${whose} are in progress, the most one caller may hold at once: read or close one, then retry`);
    }
  }
}

/** The rule a refusal names in the endpoint's decision log. */
export function answersRule(answers: AnswerPlaces): string {
  return `at most ${answers.limits.perCaller} answers in progress per caller, ${answers.limits.perTenant} per tenant asking or answering, ${answers.limits.total} per process`;
}
