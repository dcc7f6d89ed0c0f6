/**
 * How many answers may be in progress at once, whatever door asked (GraphQL's `queryEndpoint`
 * and `endpointQuery`, REST, OpenAI-compatible, MCP's tool calls): each holds a socket to its
 * client, often one to the model's server, and its buffers, for as long as the model answers
 * (up to SLUICE_MODEL_ANSWER_TIMEOUT_MS) and the client reads. The rate limits bound how fast a
 * caller starts them, not how many it holds: one API key at 10 requests a second held about
 * 980 streams in 140 s (the process ran out of file descriptors and other tenants' connections
 * were reset), and one tenant held 566 sockets to a slow model (attacker reviews, December).
 *
 * Bounds, each refused before the model is asked (RATE_LIMITED, reason ANSWERS_IN_PROGRESS):
 *  - per caller (a user, an API key, an external identity; an anonymous caller: its address,
 *    IPv6 by its /64 as the address limit counts it): SLUICE_MAX_ANSWERS_PER_CALLER;
 *  - per tenant, SLUICE_MAX_ANSWERS_PER_TENANT, twice over: the answers a tenant's callers ask
 *    for (however many keys or identities it makes), and the answers a tenant's endpoints give
 *    to outsiders (other tenants' callers, anonymous callers from any number of addresses).
 *    Without it one tenant's keys, each within its share, held the whole process against a
 *    slow model of its own, and every other tenant was refused (attacker review, December);
 *  - per outsider of a tenant (one other tenant's callers together; anonymous callers
 *    together): half the tenant's serving share, rounded up, so one outsider cannot take it all;
 *  - per process: SLUICE_MAX_ANSWERS;
 *  - the process's reserve, SLUICE_ANSWERS_RESERVE (a quarter of SLUICE_MAX_ANSWERS): once all
 *    but it are in use, one more place goes only where each tenant it involves (the asking
 *    tenant; for an outsider, the endpoint's tenant too) is involved in fewer than
 *    SLUICE_ANSWERS_GUARANTEED_PER_TENANT, its callers' answers and its endpoints' for outsiders
 *    counted together. An anonymous caller has no guarantee of its own: its place is the
 *    endpoint's tenant's. Tenants cost nothing (sign-up is open): four self-made tenants, each
 *    within its share, held all 400 places against slow models of their own, and every other
 *    tenant was refused, on its own private endpoints too; when asking and serving had a
 *    guarantee each and an anonymous address one of its own, a tenant took two and anonymous
 *    callers from two addresses the rest (attacker reviews, December). So N tenants hold at
 *    most N × the guarantee of the reserve; many tenants from many addresses can still fill it,
 *    it raises the cost (sign-ups are limited per address: SLUICE_SIGNUP_LIMIT_PER_IP).
 * Every refusal names its bound in `bound`: CALLER, TENANT, SERVING, OUTSIDER, RESERVE, PROCESS.
 * The serving share counts outsiders only, and only once they reached the endpoint (it is the
 * endpoint's tenant's or published; an anonymous caller is admitted there): it once counted the
 * tenant's own callers too, and a reference to any endpoint of the tenant, private or missing,
 * before its access check, so outsiders filled it and the tenant's own callers were refused
 * on its private endpoints (attacker review, December). The tenant's own callers are bounded
 * by their asking share and the process's bound.
 * Taken from the query's admission to its answer's end, however it ends (query.service.ts).
 */
import type { AnswerPlace, AnswerPlaces, ServingFull } from '../../platform/concurrency/answer-places.js';

export { AnswerPlaces } from '../../platform/concurrency/answer-places.js';
export type { AnswerPlace } from '../../platform/concurrency/answer-places.js';
import { ipIdentity, principalOf } from '../../platform/rate-limits/bucket-keys.js';
import type { Caller, ReachedEndpoint } from '../endpoints/endpoint-access.js';
import { RateLimitedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';
import { platformDenial, platformRefusalOf, type PendingRefusal } from './refusals.js';

export const ANSWERS_IN_PROGRESS = 'ANSWERS_IN_PROGRESS';

/** Where none are counted: nothing to take, nothing to give back. */
const UNCOUNTED: AnswerPlace = { serve: () => null, giveBack: () => undefined };

/** Which bound refused, as the refusal names it (`extensions.bound`). */
type Bound = 'CALLER' | 'TENANT' | 'SERVING' | 'OUTSIDER' | 'RESERVE' | 'PROCESS';

// A second is about as long as a short answer takes; a held one ends when its client reads or leaves.
const refuse = (bound: Bound, message: string) => new RateLimitedError(message, 1, { reason: ANSWERS_IN_PROGRESS, bound });

/** A place for one more answer of the caller's (the caller's, its tenant's and the process's), or RATE_LIMITED (reason ANSWERS_IN_PROGRESS). */
export function takeAnswerPlace(ctx: ServiceContext): AnswerPlace {
  const answers = ctx.deps.answersInProgress;
  if (!answers) return UNCOUNTED;
  const { actor } = ctx;
  const caller = principalOf(actor) ?? `address:${ipIdentity(ctx.request?.ip ?? 'unknown')}`;
  const taken = answers.take(caller, actor.tenantId ?? null);
  if ('place' in taken) return taken.place;
  const { limits } = answers;
  switch (taken.full) {
    case 'total':
      throw refuse('PROCESS', `The server is answering as many queries as it holds at once (${limits.total}): retry in a second`);
    // Only a tenant's callers: an anonymous caller's place is judged at the endpoint (servingRefusal).
    case 'reserve':
      throw refuse(
        'RESERVE',
        `Your tenant has ${limits.guaranteed} or more answers in progress (its callers' and its endpoints' for other tenants' and anonymous callers), and the server's last ${limits.reserve} places are kept for tenants with fewer: read or close one, then retry`,
      );
    case 'asking':
      throw refuse('TENANT', `Your tenant's callers have ${limits.perTenant} answers in progress, the most one tenant may hold at once: read or close one, then retry`);
    case 'caller': {
      const whose = actor.kind === 'anonymous' ? 'from your address' : 'of yours';
      throw refuse('CALLER', `${limits.perCaller} answers ${whose} are in progress, the most one caller may hold at once: read or close one, then retry`);
    }
  }
}

/**
 * For a caller from outside the reached endpoint's tenant, `place` takes a place of that
 * tenant's serving share too. Null when it may go on (its own tenant's callers always may);
 * else the refusal and its DENY row, for the caller to write once the transaction that read the
 * endpoint has ended (refusals.ts, `recordDenial`), then throw.
 */
export function servingRefusal(ctx: ServiceContext, reached: ReachedEndpoint, caller: Caller, place: AnswerPlace): PendingRefusal<RateLimitedError> | null {
  const answers = ctx.deps.answersInProgress;
  const { actor } = ctx;
  if (!answers || actor.tenantId === reached.tenantId) return null;
  const full = place.serve(reached.tenantId, actor.tenantId ? `tenant:${actor.tenantId}` : 'anonymous');
  if (!full) return null;
  const error = servingError(answers, full, Boolean(actor.tenantId));
  return { error, denial: platformDenial(ctx, reached, caller, platformRefusalOf(error, answersRule(answers))!) };
}

function servingError(answers: AnswerPlaces, full: ServingFull, fromTenant: boolean): RateLimitedError {
  const { perTenant, guaranteed, reserve } = answers.limits;
  switch (full) {
    case 'serving':
      return refuse('SERVING', `This endpoint's tenant is giving ${perTenant} answers at once to other tenants' and anonymous callers, the most one tenant's endpoints may give them: retry in a second`);
    case 'outsider':
      return refuse(
        'OUTSIDER',
        `${fromTenant ? "Your tenant's callers" : 'Anonymous callers'} have ${answers.perOutsider} answers of this endpoint's tenant in progress, the most ${fromTenant ? 'one other tenant' : 'anonymous callers together'} may hold of the ${perTenant} it gives at once: read or close one, then retry`,
      );
    case 'reserve':
      return refuse(
        'RESERVE',
        `This endpoint's tenant has ${guaranteed} or more answers in progress (its callers' and its endpoints' for other tenants' and anonymous callers), and the server's last ${reserve} places are kept for tenants with fewer: retry in a second`,
      );
  }
}

/** The rule a refusal names in the endpoint's decision log. */
export function answersRule(answers: AnswerPlaces): string {
  const { perCaller, perTenant, total, reserve, guaranteed } = answers.limits;
  return `at most ${perCaller} answers in progress per caller, ${perTenant} per tenant asking, ${perTenant} per tenant answering outsiders (${answers.perOutsider} per outsider), ${total} per process, the last ${reserve} only for tenants in fewer than ${guaranteed} (asking and answering outsiders together)`;
}
