/**
 * Asking an endpoint a question: reach it as the caller (endpoints/endpoint-access.ts: NOT_FOUND
 * unless it is the caller's tenant's or published; everything after runs bound to its tenant),
 * let its policies admit or refuse the query (policies/policy-engine.ts) and plan its retrieval;
 * its answer (passages, the model's pieces, usage) is answer-events.ts's, and `record` here
 * records it: the usage and what the accounting policies charge (their flat charge reserved
 * at admission, in the deciding transaction, and settled at the end: usage-writer.ts). No
 * database transaction is held while the model answers.
 *
 * Its own folder because it uses endpoints, policies and models, and policies belong to an
 * endpoint (policies import endpoints): inside endpoints/ it would close a circle.
 */
import { CodedError, ModelUnavailableError, NotFoundError, ValidationError, type RateLimitedError } from '../errors.js';
import { assertAvailable } from '../model-health/health-rules.js';
import { assertMayAskEndpoints, canAskEndpoints } from '../access/permissions.js';
import { modelClient } from '../models/model.service.js';
import { decidePolicies } from '../policies/policy-engine.js';
import { auditEvent } from '../audit/record.js';
import type { ServiceContext } from '../service-context.js';
import { callerOf, policyCaller, reachEndpoint, reachEndpointAnd } from '../endpoints/endpoint-access.js';
import { inQuerySlot } from './query-slots.js';
import { answersRule, servingRefusal, takeAnswerPlace, type AnswerPlace } from './answers-in-progress.js';
import { anonymousRefusal, takeAnonymousQuery } from './anonymous-callers.js';
import { auditPlatformRefusal, platformDenial, platformRefusalOf, recordDenial } from './refusals.js';
import { refusalShownTo } from '../policies/consumer-disclosure.js';
import { characterCount } from '../display-text.js';
import { validTopK } from '../endpoints/endpoint.service.js';
import { minScoreOf } from '../endpoints/endpoint.entity.js';
import { validMinScore, type RetrievalMode } from '../endpoints/retrieval-mode.js';
import { planRetrieval } from './retrieval-modes.js';
import { recordQueryUsage, reserveQueryUsage } from './usage-writer.js';
import { whenAborted } from '../../platform/lifecycle/when-aborted.js';
import { answerEvents, NO_USAGE, type AnswerRun, type QueryEvent, type QueryUsage } from './answer-events.js';

export type { Citation, QueryEvent, QueryUsage } from './answer-events.js';
import { callOutcome } from '../../platform/telemetry/product-metrics.js';

export const MAX_QUERY_CHARS = 8192;

export interface QueryOptions {
  topK?: number | null;
  minScore?: number | null;
  /**
   * Passages only: the model is not asked (a search, such as MCP's `search_<endpoint>` tool).
   * The query passes the same policies and is recorded the same way, with no completion tokens.
   */
  retrievalOnly?: boolean;
}

/** A query that passed every check; `events` runs it. */
export interface PreparedQuery {
  endpointId: string;
  events(signal: AbortSignal): AsyncGenerator<QueryEvent>;
}

/** An admitted query: run (`events`), or, when it is over before it ran, recorded as cancelled (`abandon`). */
interface AdmittedQuery extends PreparedQuery {
  abandon(): void;
}

export class QueryService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Admits a query (every door's one way in) and holds a place among the caller's answers in
   * progress (answers-in-progress.ts; for an outsider, of the endpoint's tenant's serving share
   * too, once it reached the endpoint) until its answer is over, however that comes: its
   * events' end, a refusal below, or, before the events end, the end of the operation that
   * asked (its scope) or of its request (the client went away). An answer over before its
   * events started (a client that left while it was admitted) is recorded CANCELLED, which
   * settles its quota reservation, and never runs; one over while its events run is aborted
   * (a GraphQL query whose result was sent no longer asks the model for an answer nobody reads).
   */
  async prepare(endpointRef: string, query: string, options: QueryOptions = {}): Promise<PreparedQuery> {
    assertMayAskEndpoints(this.ctx.actor);
    if (query.trim().length === 0) throw new ValidationError(`query must be 1 to ${MAX_QUERY_CHARS} characters`, { field: 'query' });
    const place = await this.answerPlace(endpointRef);
    const giveBack = place.giveBack;
    const over = new AbortController();
    const end = () => over.abort();
    this.ctx.scope.onEnd(end);
    // Held to the caller's credential while it runs, as the doors and subscriptions are (a
    // GraphQL operation's, RequestFacts.standing): a key revoked, a session ended or a member
    // removed mid-answer ends the query with that error and closes the model request, which
    // otherwise ran to its end (up to SLUICE_MODEL_ANSWER_TIMEOUT_MS) for a caller already gone.
    const standing = this.ctx.request?.standing?.();
    let lost: CodedError | undefined;
    const stopHolding = [
      whenAborted(this.ctx.request?.signal, end),
      whenAborted(standing, () => {
        lost = standing!.reason as CodedError;
        end();
      }),
    ];
    const stopWatching = () => stopHolding.forEach((stop) => stop());
    whenAborted(over.signal, giveBack);
    let admitted: AdmittedQuery;
    try {
      admitted = await this.admit(endpointRef, query, options, place);
    } catch (error) {
      stopWatching();
      end();
      throw error;
    }
    let started = false;
    whenAborted(over.signal, () => {
      if (started) return;
      started = true;
      stopWatching();
      admitted.abandon();
    });
    return {
      endpointId: admitted.endpointId,
      async *events(signal) {
        if (started) {
          // Over before it ran: for a lost credential, its error.
          if (lost) throw lost;
          return;
        }
        started = true;
        let completed = false;
        try {
          for await (const event of admitted.events(AbortSignal.any([signal, over.signal]))) {
            completed ||= event.kind === 'completed';
            yield event;
          }
        } catch (error) {
          throw lost ?? error;
        } finally {
          // After the query was recorded: a caller who awaits its record finds the place free.
          stopWatching();
          giveBack();
        }
        // Cut by the credential: its error, not an answer that merely stopped.
        if (lost && !completed) throw lost;
      },
    };
  }

  /** A place for one more answer of the caller's; over the caller's or the process's count, the refusal, recorded as the door refusals are. */
  private async answerPlace(endpointRef: string): Promise<AnswerPlace> {
    try {
      return takeAnswerPlace(this.ctx);
    } catch (error) {
      await this.recordRefusal(endpointRef, error, answersRule(this.ctx.deps.answersInProgress!));
      throw error;
    }
  }

  private async admit(endpointRef: string, query: string, options: QueryOptions, place: AnswerPlace): Promise<AdmittedQuery> {
    const { actor } = this.ctx;
    const caller = callerOf(this.ctx);
    // One transaction, bound to the endpoint's tenant: read the endpoint, let its policies
    // admit or refuse the query (an admission's decision row is committed with it), plan the
    // retrieval and, for a keyword ranking, rank the passages too. The endpoint's policies
    // judge the query as sent, before the platform's own checks, so a content guard sees (and
    // counts) what it refuses. No bucket store is asked in it (Redis may be slow, and the
    // policies' lock is held): an anonymous caller's query is taken from its address's bucket
    // before it opens, a refusal's DENY row written after it ends (recordDenial, below).
    // In the caller's share of the pool (query-slots.ts), as the search transaction later is.
    let overAddressLimit: RateLimitedError | null = null;
    const takeAddressQuery = async (endpointId: string) => void (overAddressLimit = await takeAnonymousQuery(this.ctx, endpointId));
    const prepared = await inQuerySlot(this.ctx, () =>
      reachEndpointAnd(this.ctx, endpointRef, async (tx, reached) => {
        const { em, endpoint, tenantId } = reached;
        // Who may ask with no credential, and how often per address (anonymous-callers.ts); then,
        // for an outsider, a place of the endpoint's tenant's serving share, taken only now that it
        // reached the endpoint: a reference to a private or missing one takes none (answers-in-progress.ts).
        const platform = (actor.kind === 'anonymous' ? anonymousRefusal(this.ctx, reached, caller, overAddressLimit) : null) ?? servingRefusal(this.ctx, reached, caller, place);
        if (platform) return { em, endpoint, tenantId, outcome: null, refused: platform.error, unwritten: platform.denial, byPolicy: false, byPlatform: true };
        const admittedAt = this.ctx.deps.clock.now();
        const outcome = await decidePolicies(
          tx,
          {
            now: admittedAt,
            endpoint: { id: endpoint.id, slug: endpoint.slug, tenantId: tenantId },
            caller: policyCaller(actor, caller, tenantId),
            query: query.trim(),
          },
          this.ctx.request?.operationHash ?? null,
          endpoint.enabledPolicies,
        );
        if (outcome.denial) return { em, endpoint, tenantId, outcome, refused: outcome.denial, unwritten: outcome.unwritten, byPolicy: true };
        let text: string;
        let settings: { topK: number; minScore: number | null };
        try {
          text = validQuery(query);
          settings = {
            topK: validTopK(options.topK ?? endpoint.topK),
            minScore: options.minScore !== undefined ? validMinScore(options.minScore, endpoint.retrievalMode as RetrievalMode) : minScoreOf(endpoint),
          };
        } catch (error) {
          // Returned, not thrown: the policies' decision is committed all the same (an accounting policy counts attempts).
          if (error instanceof CodedError) return { em, endpoint, tenantId, outcome, refused: error, byPolicy: false };
          throw error;
        }
        // From here the query is charged (at least its flat part, whatever its end): reserved now,
        // under the policies' lock, so the next query's quota check counts it while it runs.
        const { flatMicros } = outcome.admission;
        const reservation = flatMicros > 0 ? reserveQueryUsage(tx, { tenantId, endpointId: endpoint.id, endpointSlug: endpoint.slug, ...caller, flatMicros, createdAt: admittedAt }) : null;
        let retrieval: Awaited<ReturnType<typeof planRetrieval>>;
        try {
          // A model a fresh health check found DOWN refuses at once, before anything is ranked.
          assertAvailable(endpoint.model, 'chat', this.ctx.deps.clock.now(), this.ctx.deps.modelHealth);
          retrieval = await planRetrieval(this.ctx, tx, em, endpoint, { query: text, ...settings });
        } catch (error) {
          if (error instanceof ModelUnavailableError) return { em, endpoint, tenantId, outcome, refused: error, byPolicy: false, reservation };
          throw error;
        }
        // Not while the policies' lock is held: it would make the endpoint's queries wait on each other's ranking.
        const ranked = retrieval.rankNow && !outcome.locked ? await retrieval.rankNow(tx) : undefined;
        return { em, endpoint, tenantId, outcome, refused: null, byPolicy: false, text, retrieval, ranked, reservation };
      }, { withPolicies: true, beforeTransaction: actor.kind === 'anonymous' ? takeAddressQuery : undefined }),
    );
    const { em, endpoint, tenantId } = prepared;
    // With no transaction open and no lock held: the flood limit asks the bucket store (refusals.ts).
    // False: only counted. A content guard's violation was written under the lock (nothing unwritten).
    const unwritten = 'unwritten' in prepared ? prepared.unwritten : null;
    const written = unwritten ? await recordDenial(this.ctx, prepared, unwritten) : true;
    const meter = this.ctx.deps.meter;
    // A decision row was written when the endpoint has policies (their lock was taken) or the platform refused.
    if ('byPlatform' in prepared && prepared.refused instanceof CodedError) meter?.policyDecision('refused', String(prepared.refused.details.reason ?? prepared.refused.code));
    else if (prepared.outcome?.locked) meter?.policyDecision(prepared.byPolicy ? 'denied' : 'allowed', prepared.byPolicy && prepared.refused instanceof CodedError ? String(prepared.refused.details.policyType ?? '') : null);
    const onEndpointChain = (action: string, outcome: string, details: Record<string, unknown>) =>
      auditEvent(this.ctx, { tenantId, action, outcome, details: { endpoint: `${endpoint.id}`, endpointSlug: endpoint.slug, ...details } });
    // Null when the platform refused before the policies ran (anonymous-callers.ts): nothing is charged then.
    const admission = prepared.outcome?.admission;
    const reservation = 'reservation' in prepared ? prepared.reservation : null;
    const clock = this.ctx.deps.clock;
    const record = async (usage: QueryUsage, latencyMs: number, outcome: string) => {
      onEndpointChain('endpoint.query', outcome, { ...usage, latencyMs });
      meter?.endpointQuery(endpoint.id, callOutcome(outcome), latencyMs / 1000);
      await recordQueryUsage(em, {
        tenantId,
        endpointId: endpoint.id,
        endpointSlug: endpoint.slug,
        ...caller,
        ...usage,
        chargedMicros: admission?.charge(usage) ?? 0,
        latencyMs,
        outcome,
        createdAt: clock.now(),
      }, reservation);
    };
    if (prepared.refused) {
      // A refusal is on the endpoint owner's audit chain, where its operators look.
      const error = prepared.refused;
      // Unless the flood limit only counted it (refusals.ts): then its decision row is not written either.
      if (prepared.byPolicy && error instanceof CodedError && written) onEndpointChain('policy.denied', error.code, { policyId: error.details.policyId ?? null, policyType: error.details.policyType ?? null, reason: error.details.reason ?? null });
      if ('byPlatform' in prepared && written && error instanceof CodedError) auditPlatformRefusal(this.ctx, prepared, error.code, String(error.details.reason));
      // A model found DOWN: the query passed its checks and is recorded like any other's outcome.
      if (error instanceof ModelUnavailableError) await record(NO_USAGE, 0, error.code);
      // Recorded whole above; shown to the caller as consumer-disclosure.ts decides (no policy id for outsiders).
      throw refusalShownTo(actor, tenantId, error);
    }
    const { text, retrieval, ranked } = prepared;
    const run: AnswerRun = {
      text,
      retrieval,
      ranked,
      model: endpoint.model,
      client: modelClient(this.ctx.deps, endpoint.model),
      retrievalOnly: options.retrievalOnly === true,
      started: performance.now(),
      record,
      audit: this.ctx.deps.audit,
      meter,
    };
    const log = this.ctx.deps.modelSettings.log;
    return {
      endpointId: endpoint.id,
      events: (signal) => answerEvents(run, signal),
      abandon: () =>
        void record(NO_USAGE, 0, 'CANCELLED').catch((error: unknown) => log?.warn({ err: error, endpointId: endpoint.id }, 'a query abandoned before its answer began could not be recorded')),
    };
  }

  /**
   * Records in the endpoint's decision log a refusal the caller met before this service ran:
   * the per-caller request limit or the caller tenant's IP allow-list, refused at a consumer
   * door or by a GraphQL plugin for a request naming `endpointRef`. Only when the caller
   * could otherwise reach the endpoint (its tenant's, or published): nothing is written into
   * a log the caller could not see, and a NOT_FOUND is never recorded. `rule` says what
   * decided, when the refuser knows it. Returns whether a decision was written.
   */
  async recordRefusal(endpointRef: string, error: unknown, rule?: string): Promise<boolean> {
    const refusal = platformRefusalOf(error, rule);
    if (!refusal || !canAskEndpoints(this.ctx.actor)) return false;
    const caller = callerOf(this.ctx);
    const reached = await reachEndpoint(this.ctx, endpointRef).catch((failure: unknown) => {
      if (failure instanceof NotFoundError || failure instanceof ValidationError) return undefined;
      throw failure;
    });
    if (!reached) return false;
    this.ctx.deps.meter?.policyDecision('refused', refusal.reasonCode);
    // Over the refusal log's flood limit it was counted, not written; asked once the endpoint's read has ended (refusals.ts).
    if (!(await recordDenial(this.ctx, reached, platformDenial(this.ctx, reached, caller, refusal)))) return false;
    auditPlatformRefusal(this.ctx, reached, refusal.code, refusal.reasonCode);
    return true;
  }
}

function validQuery(query: string): string {
  const text = query.trim();
  // Characters are code points, as every other bound (docs/errors.md) and MCP's JSON Schema
  // maxLength count them: an emoji is one, not two UTF-16 units.
  if (text.length === 0 || (text.length > MAX_QUERY_CHARS && characterCount(text) > MAX_QUERY_CHARS)) {
    throw new ValidationError(`query must be 1 to ${MAX_QUERY_CHARS} characters`, { field: 'query' });
  }
  if (!text.isWellFormed()) throw new ValidationError('query must be valid Unicode text', { field: 'query' });
  const words = distinctWords(text);
  if (words > MAX_QUERY_WORDS) {
    throw new ValidationError(`query may hold at most ${MAX_QUERY_WORDS} different words (it has ${words}): ask with the words that matter`, { field: 'query', reason: 'TOO_MANY_WORDS', max: MAX_QUERY_WORDS });
  }
  return text;
}

/**
 * The most different words a query may hold. A keyword search scores each word's chunks: 1 600
 * numbers, each in thousands of chunks of a 200 000-chunk dataset, kept one statement running
 * for minutes (2026-12-05, a review as an attacker). A hundred is a long paragraph; a search
 * engine's question is rarely a tenth of it (Cranfield's longest: 26). Counted as runs of letters
 * and digits, so "1,2,3" is three, as the text-search parser reads it.
 */
export const MAX_QUERY_WORDS = 100;

function distinctWords(text: string): number {
  return new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).size;
}
