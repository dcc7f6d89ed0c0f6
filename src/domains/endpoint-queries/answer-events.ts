/**
 * The events of an admitted query (query.service.ts admits it): its passages (ranked at
 * admission, or retrieved now), the model's answer piece by piece, its usage and its end. The
 * query is recorded once however it ends (`record`: the audit event, the metrics, the usage
 * row that settles the admission's reservation), before `completed` when it finishes.
 */
import { codedFailure } from '../errors.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { ModelClient } from '../models/provider.js';
import type { ProductMeter } from '../../platform/telemetry/product-metrics.js';
import { callOutcome } from '../../platform/telemetry/product-metrics.js';
import type { RankedPassage, RetrievalPlan } from './retrieval-modes.js';

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

export const NO_USAGE: QueryUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, costMicros: 0 };

/** What an admitted query's answer needs. */
export interface AnswerRun {
  /** The question, checked. */
  text: string;
  retrieval: RetrievalPlan;
  /** The passages, when the ranking ran at admission (a keyword ranking). */
  ranked: RankedPassage[] | undefined;
  model: { id: string; promptMicrosPer1k: number; completionMicrosPer1k: number };
  client: ModelClient;
  /** Passages only: the model is not asked. */
  retrievalOnly: boolean;
  /** When the query was admitted (performance.now()), for its latency. */
  started: number;
  /** Records the query: called once, however it ends. */
  record(usage: QueryUsage, latencyMs: number, outcome: string): Promise<void>;
  audit?: Pick<AuditLog, 'expect'>;
  meter?: ProductMeter;
}

export async function* answerEvents(run: AnswerRun, signal: AbortSignal): AsyncGenerator<QueryEvent> {
  const { text, retrieval, ranked, model, client, retrievalOnly, started, record, audit, meter } = run;
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
