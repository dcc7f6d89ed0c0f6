/**
 * How many answers one caller may have in progress at once, whatever door asked (GraphQL's
 * `queryEndpoint` and `endpointQuery`, REST, OpenAI-compatible, MCP's tool calls): each holds a
 * socket to its client, often one to the model's server, and its buffers, for as long as the
 * model answers (up to SLUICE_MODEL_ANSWER_TIMEOUT_MS) and the client reads. The rate limits
 * bound how fast a caller starts them, not how many it holds: one API key at 10 requests a
 * second held about 980 streams in 140 s (the process ran out of file descriptors and other
 * tenants' connections were reset), and one tenant held 566 sockets to a slow model (attacker
 * reviews, December). So each caller (a user, an API key, an external identity; an anonymous
 * caller: its address, IPv6 by its /64 as the address limit counts it) holds at most
 * SLUICE_MAX_ANSWERS_PER_CALLER, and the process at most SLUICE_MAX_ANSWERS; past either the
 * query is refused before anything runs: RATE_LIMITED, reason ANSWERS_IN_PROGRESS. Taken from
 * the query's admission to its answer's end, however it ends (completed, failed, cancelled,
 * the client gone): query.service.ts.
 */
import type { Registry } from 'prom-client';
import { HeldCounts, type GiveBack } from '../../platform/concurrency/held-counts.js';
import { ipIdentity, principalOf } from '../../platform/rate-limits/bucket-keys.js';
import { RateLimitedError } from '../errors.js';
import type { ServiceContext } from '../service-context.js';

export const ANSWERS_IN_PROGRESS = 'ANSWERS_IN_PROGRESS';

/** A place for one more answer of the caller's, or RATE_LIMITED (reason ANSWERS_IN_PROGRESS); nothing to give back where none are counted. */
export function takeAnswerPlace(ctx: ServiceContext): GiveBack {
  const answers = ctx.deps.answersInProgress;
  if (!answers) return () => undefined;
  const { actor } = ctx;
  const key = principalOf(actor) ?? `address:${ipIdentity(ctx.request?.ip ?? 'unknown')}`;
  const taken = answers.take(key);
  if ('giveBack' in taken) return taken.giveBack;
  // A second is about as long as a short answer takes; a held one ends when its client reads or leaves.
  if (taken.full === 'total') throw new RateLimitedError(`The server is answering as many queries as it holds at once (${answers.limits.total}): retry in a second`, 1, { reason: ANSWERS_IN_PROGRESS });
  const whose = actor.kind === 'anonymous' ? 'from your address' : 'of yours';
  throw new RateLimitedError(`${answers.limits.perKey} answers ${whose} are in progress, the most one caller may hold at once: read or close one, then retry`, 1, { reason: ANSWERS_IN_PROGRESS });
}

/** The rule a refusal names in the endpoint's decision log. */
export function answersRule(answers: HeldCounts): string {
  return `at most ${answers.limits.perKey} answers in progress per caller, ${answers.limits.total} per process`;
}

/** The process's count of answers in progress, with its gauge (sluice_answers_in_progress) on `registry`. */
export function answersInProgressFor(limits: { perCaller: number; total: number }, registry?: Registry): HeldCounts {
  return new HeldCounts(
    { perKey: limits.perCaller, total: limits.total },
    registry && { registry, name: 'sluice_answers_in_progress', help: 'Endpoint answers in progress (admitted, not yet ended), against SLUICE_MAX_ANSWERS' },
  );
}
