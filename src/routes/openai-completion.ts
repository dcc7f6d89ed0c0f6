/**
 * An endpoint's answer in OpenAI's chat completions shapes: one `chat.completion` object, or
 * `chat.completion.chunk` events. What OpenAI's protocol has no place for (the passages the
 * answer is grounded in, its citations, its cost) is in the extra field `sluice`, documented
 * in docs/endpoints.md; OpenAI clients keep unknown fields as they are.
 */
import { randomUUID } from 'node:crypto';
import type { Citation, QueryEvent, QueryUsage } from '../domains/endpoint-queries/query.service.js';
import { shownPassage, type ShownPassage } from './shown-passage.js';

/** The extra field: what grounds the answer. */
export interface SluiceExtra {
  /** `[n]` in the answer is the passage of rank n; these are the ones the answer cites. */
  citations: Citation[];
  passages: ShownPassage[];
  costMicros: number;
  latencyMs: number;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Follows one query's events and writes what OpenAI clients read. */
export class CompletionWriter {
  readonly id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
  readonly created = Math.floor(Date.now() / 1000);
  private readonly passages: ShownPassage[] = [];
  private answer = '';
  private usage: QueryUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, costMicros: 0 };
  private completed: Extract<QueryEvent, { kind: 'completed' }> | undefined;

  /** `model` is echoed as the client named it (the endpoint's reference). */
  constructor(private readonly model: string) {}

  /** Takes one event; returns the answer's new text, if the event carried some. */
  take(event: QueryEvent): string | null {
    switch (event.kind) {
      case 'retrieved':
        this.passages.push(shownPassage(event.rank, event.passage));
        return null;
      case 'answerDelta':
        this.answer += event.text;
        return event.text;
      case 'usage':
        this.usage = event.usage;
        return null;
      case 'completed':
        this.completed = event;
        return null;
    }
  }

  get isComplete(): boolean {
    return this.completed !== undefined;
  }

  /** The whole answer (non-streaming), once the query completed. */
  completion() {
    return {
      id: this.id,
      object: 'chat.completion' as const,
      created: this.created,
      model: this.model,
      choices: [{ index: 0, message: { role: 'assistant' as const, content: this.completed?.answer ?? this.answer, refusal: null }, logprobs: null, finish_reason: 'stop' as const }],
      usage: this.openAIUsage(),
      sluice: this.extra(),
    };
  }

  /** The first chunk: the role, with no content yet (as OpenAI starts its streams). */
  roleChunk() {
    return this.chunk({ role: 'assistant', content: '' }, null);
  }

  contentChunk(text: string) {
    return this.chunk({ content: text }, null);
  }

  /** The last chunk with a choice: `finish_reason` and the extra field. */
  finishChunk() {
    return { ...this.chunk({}, 'stop'), sluice: this.extra() };
  }

  /** With `stream_options.include_usage`: after the finish, a chunk with no choices and the usage (OpenAI's order). */
  usageChunk() {
    return { id: this.id, object: 'chat.completion.chunk' as const, created: this.created, model: this.model, choices: [], usage: this.openAIUsage() };
  }

  private chunk(delta: Record<string, unknown>, finishReason: 'stop' | null) {
    return {
      id: this.id,
      object: 'chat.completion.chunk' as const,
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
  }

  private openAIUsage(): OpenAIUsage {
    return { prompt_tokens: this.usage.promptTokens, completion_tokens: this.usage.completionTokens, total_tokens: this.usage.totalTokens };
  }

  private extra(): SluiceExtra {
    return { citations: this.completed?.citations ?? [], passages: this.passages, costMicros: this.usage.costMicros, latencyMs: this.completed?.latencyMs ?? 0 };
  }
}
