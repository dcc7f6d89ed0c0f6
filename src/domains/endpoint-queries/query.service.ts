/**
 * Asking an endpoint a question: reach it as the caller (endpoints/endpoint-access.ts: NOT_FOUND
 * unless it is the caller's tenant's or published; everything after runs bound to its tenant),
 * let its policies admit or refuse the query (policies/policy-engine.ts), retrieve passages,
 * stream the model's answer, record the usage and what the accounting policies charge (their
 * flat charge reserved at admission, in the deciding transaction, and settled at the end:
 * usage-writer.ts). No database transaction is held while the model answers.
 *
 * Its own folder because it uses endpoints, policies and models, and policies belong to an
 * endpoint (policies import endpoints): inside endpoints/ it would close a circle.
 */
import { CodedError, codedFailure, ModelUnavailableError, NotFoundError, ValidationError } from '../errors.js';
import { assertAvailable } from '../model-health/health-rules.js';
import { assertMayAskEndpoints, canAskEndpoints } from '../access/permissions.js';
import { modelClient } from '../models/model.service.js';
import { decidePolicies } from '../policies/policy-engine.js';
import { auditEvent } from '../audit/record.js';
import type { ServiceContext } from '../service-context.js';
import { callerOf, policyCaller, reachEndpointAnd } from '../endpoints/endpoint-access.js';
import { inQuerySlot } from './query-slots.js';
import { answersRule, takeAnswerPlace } from './answers-in-progress.js';
import { anonymousRefusal } from './anonymous-callers.js';
import { auditPlatformRefusal, platformRefusalOf, writePlatformRefusal } from './refusals.js';
import { refusalShownTo } from '../policies/consumer-disclosure.js';
import { characterCount } from '../display-text.js';
import { validTopK } from '../endpoints/endpoint.service.js';
import { minScoreOf } from '../endpoints/endpoint.entity.js';
import { validMinScore, type RetrievalMode } from '../endpoints/retrieval-mode.js';
import { planRetrieval, type RankedPassage } from './retrieval-modes.js';
import { recordQueryUsage, reserveQueryUsage } from './usage-writer.js';
import { callOutcome } from '../../platform/telemetry/product-metrics.js';

export const MAX_QUERY_CHARS = 8192;
const NO_USAGE: QueryUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, costMicros: 0 };

export interface QueryOptions {
  topK?: number | null;
  minScore?: number | null;
  /**
   * Passages only: the model is not asked (a search, such as MCP's `search_<endpoint>` tool).
   * The query passes the same policies and is recorded the same way, with no completion tokens.
   */
  retrievalOnly?: boolean;
}

export interface QueryUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costMicros: number;
}

export interface Citation {
  /** The passage's number in the answer's `[n]` markers. */
  marker: number;
  chunkId: string;
  documentTitle: string;
}

export type QueryEvent =
  | { kind: 'retrieved'; rank: number; passage: RankedPassage }
  | { kind: 'answerDelta'; text: string }
  | { kind: 'usage'; usage: QueryUsage }
  | { kind: 'completed'; answer: string; citations: Citation[]; latencyMs: number };

/** A query that passed every check; `events` runs it. */
export interface PreparedQuery {
  endpointId: string;
  events(signal: AbortSignal): AsyncGenerator<QueryEvent>;
}

export class QueryService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Admits a query (every door's one way in) and holds a place among the caller's answers in
   * progress (answers-in-progress.ts) from here until its answer ends, however it ends: its
   * events' end, a refusal below, or the end of the request that asked (a door whose client
   * left before the answer's events started never runs them).
   */
  async prepare(endpointRef: string, query: string, options: QueryOptions = {}): Promise<PreparedQuery> {
    assertMayAskEndpoints(this.ctx.actor);
    if (query.trim().length === 0) throw new ValidationError(`query must be 1 to ${MAX_QUERY_CHARS} characters`, { field: 'query' });
    const giveBack = await this.answerPlace(endpointRef);
    this.ctx.scope.onEnd(giveBack);
    try {
      const admitted = await this.admit(endpointRef, query, options);
      return {
        endpointId: admitted.endpointId,
        async *events(signal) {
          try {
            yield* admitted.events(signal);
          } finally {
            // After the query was recorded: a caller who awaits its record finds the place free.
            giveBack();
          }
        },
      };
    } catch (error) {
      giveBack();
      throw error;
    }
  }

  /** A place for one more answer of the caller's; over the caller's or the process's count, the refusal, recorded as the door refusals are. */
  private async answerPlace(endpointRef: string): Promise<() => void> {
    try {
      return takeAnswerPlace(this.ctx);
    } catch (error) {
      await this.recordRefusal(endpointRef, error, answersRule(this.ctx.deps.answersInProgress!));
      throw error;
    }
  }

  private async admit(endpointRef: string, query: string, options: QueryOptions): Promise<PreparedQuery> {
    const { actor } = this.ctx;
    const caller = callerOf(this.ctx);
    // One transaction, bound to the endpoint's tenant: read the endpoint, let its policies
    // admit or refuse the query (their decision row is committed with it), plan the
    // retrieval and, for a keyword ranking, rank the passages too. The endpoint's policies
    // judge the query as sent, before the platform's own checks, so a content guard sees (and
    // counts) what it refuses.
    // In the caller's share of the pool (query-slots.ts), as the search transaction later is.
    const prepared = await inQuerySlot(this.ctx, () =>
      reachEndpointAnd(this.ctx, endpointRef, async (tx, reached) => {
        const { em, endpoint, tenantId } = reached;
        // Who may ask with no credential, and how often per address (anonymous-callers.ts); the
        // refusal is written here and committed with the endpoint's read.
        const platformRefusal = actor.kind === 'anonymous' ? await anonymousRefusal(this.ctx, tx, reached, caller) : null;
        if (platformRefusal) return { em, endpoint, tenantId, outcome: null, refused: platformRefusal, byPolicy: false, byPlatform: true };
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
        if (outcome.denial) return { em, endpoint, tenantId, outcome, refused: outcome.denial, byPolicy: true };
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
      }, { withPolicies: true }),
    );
    const { em, endpoint, tenantId } = prepared;
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
      if (prepared.byPolicy && error instanceof CodedError) onEndpointChain('policy.denied', error.code, { policyId: error.details.policyId ?? null, policyType: error.details.policyType ?? null, reason: error.details.reason ?? null });
      if ('byPlatform' in prepared && error instanceof CodedError) auditPlatformRefusal(this.ctx, prepared, error.code, String(error.details.reason));
      // A model found DOWN: the query passed its checks and is recorded like any other's outcome.
      if (error instanceof ModelUnavailableError) await record(NO_USAGE, 0, error.code);
      // Recorded whole above; shown to the caller as consumer-disclosure.ts decides (no policy id for outsiders).
      throw refusalShownTo(actor, tenantId, error);
    }
    const { text, retrieval, ranked } = prepared;
    const model = endpoint.model;
    const client = modelClient(this.ctx.deps, model);
    const started = performance.now();
    const retrievalOnly = options.retrievalOnly === true;
    const audit = this.ctx.deps.audit;

    return {
      endpointId: endpoint.id,
      async *events(signal) {
        let usage: QueryUsage = NO_USAGE;
        let outcome = 'CANCELLED';
        // Recorded once: before `completed` when the query finishes, so a caller that reads its
        // usage on completion (the console's playground does) finds this query counted; else
        // in `finally`, however it ended.
        let recorded = false;
        // A cut stream records its `endpoint.query` here after its door's event (the caller
        // went away first): the shutdown waits for this one too before closing the audit log.
        const settled = audit?.expect();
        const recordOnce = async (latencyMs: number, how: string) => {
          if (recorded) return;
          recorded = true;
          await record(usage, latencyMs, how);
        };
        try {
          const retrieved = ranked ? { passages: ranked, usage: { promptTokens: 0, costMicros: 0 } } : await retrieval.run(signal);
          const passages = retrieved.passages;
          // Embedding the question is part of the query's prompt tokens and cost.
          usage = withEmbedding(usage, retrieved.usage);
          for (const [rank, passage] of passages.entries()) yield { kind: 'retrieved', rank: rank + 1, passage };
          if (retrievalOnly) {
            if (signal.aborted) return;
            yield { kind: 'usage', usage };
            outcome = 'ok';
            const latencyMs = Math.round(performance.now() - started);
            await recordOnce(latencyMs, outcome);
            yield { kind: 'completed', answer: '', citations: [], latencyMs };
            return;
          }
          let answer = '';
          let citations: string[] = [];
          const asked = performance.now();
          let answered: { promptTokens: number; completionTokens: number } | undefined;
          let modelOutcome = 'CANCELLED';
          try {
            for await (const event of client.answer({ query: text, passages, signal })) {
              if (event.kind === 'delta') {
                answer += event.text;
                yield { kind: 'answerDelta', text: event.text };
              } else {
                citations = event.citations;
                answered = event.usage;
                usage = withEmbedding(costOf(event.usage, model), retrieved.usage);
              }
            }
            if (!signal.aborted) modelOutcome = 'ok';
          } catch (error) {
            if (!signal.aborted) modelOutcome = 'error';
            throw error;
          } finally {
            // Ended before the model's usage came (the caller went away mid-answer, the answer
            // failed or ran out of time): the model was asked and its server bills what it read
            // and wrote, so the query is recorded and charged the prompt and the text streamed so
            // far, estimated as for a server that reports no usage. Left at none, a consumer that
            // closed the stream after the last piece was never charged for its tokens. A model
            // that failed before its first piece (refused the key, was down) is not charged: its
            // server billed nothing we can tell of.
            if (!answered && (modelOutcome !== 'error' || answer !== '')) {
              answered = client.estimateUsage({ query: text, passages }, answer);
              usage = withEmbedding(costOf(answered, model), retrieved.usage);
            }
            meter?.modelCall(model.id, 'chat', callOutcome(modelOutcome), (performance.now() - asked) / 1000, { prompt: answered?.promptTokens ?? 0, completion: answered?.completionTokens ?? 0 });
          }
          if (signal.aborted) return;
          yield { kind: 'usage', usage };
          outcome = 'ok';
          const latencyMs = Math.round(performance.now() - started);
          await recordOnce(latencyMs, outcome);
          yield {
            kind: 'completed',
            answer,
            citations: citations.flatMap((chunkId) => {
              const index = passages.findIndex((passage) => passage.chunkId === chunkId);
              return index < 0 ? [] : [{ marker: index + 1, chunkId, documentTitle: passages[index]!.documentTitle }];
            }),
            latencyMs,
          };
        } catch (error) {
          outcome = signal.aborted ? 'CANCELLED' : (codedFailure(error)?.code ?? 'INTERNAL');
          throw error;
        } finally {
          // Every query is recorded, finished or not: the accounting policy counts attempts too.
          try {
            await recordOnce(Math.round(performance.now() - started), outcome);
          } finally {
            settled?.();
          }
        }
      },
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
    const reached = await reachEndpointAnd(this.ctx, endpointRef, (tx, reached) => {
      writePlatformRefusal(tx, this.ctx, reached, caller, refusal);
      return reached;
    }).catch((failure: unknown) => {
      if (failure instanceof NotFoundError || failure instanceof ValidationError) return undefined;
      throw failure;
    });
    if (!reached) return false;
    this.ctx.deps.meter?.policyDecision('refused', refusal.reasonCode);
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

function withEmbedding(usage: QueryUsage, embedding: { promptTokens: number; costMicros: number }): QueryUsage {
  return {
    ...usage,
    promptTokens: usage.promptTokens + embedding.promptTokens,
    totalTokens: usage.totalTokens + embedding.promptTokens,
    costMicros: usage.costMicros + embedding.costMicros,
  };
}

function costOf(usage: { promptTokens: number; completionTokens: number }, prices: { promptMicrosPer1k: number; completionMicrosPer1k: number }): QueryUsage {
  return {
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.promptTokens + usage.completionTokens,
    costMicros: Math.round((usage.promptTokens * prices.promptMicrosPer1k + usage.completionTokens * prices.completionMicrosPer1k) / 1000),
  };
}
