/**
 * `openai-compatible`: chat completions with `stream: true` against any server that speaks the
 * protocol (OpenAI, vLLM, Ollama, LM Studio…). The answer streams as server-sent events
 * (parsed by eventsource-parser); a server that ignores `stream` and answers with one JSON body
 * works too.
 *
 * Failure rules (docs/endpoints.md, shared with embeddings in openai-http.ts): the answer must
 * start, and each further piece arrive, within `requestTimeoutMs`; 429, 500, 502, 503, 504 and network errors
 * before the first byte are retried. Aborting the request's signal closes the upstream connection.
 */
import { z } from 'zod';
import { ANSWER_LIMITS, checkBaseUrl, Deadline, UpstreamCall } from './openai-http.js';
import { estimateTokens, registerModelType, reportedTokens, type AnswerEvent, type AnswerRequest, type ModelPassage, type ProviderSettings, type TokenUsage } from '../provider.js';

const configSchema = z.strictObject({
  /** Up to and including the API version, e.g. `https://api.openai.com/v1`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  model: z.string().min(1).max(255),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.int().min(1).max(1_000_000).optional(),
  systemPrompt: z.string().min(1).max(8192).optional(),
});
type OpenAIConfig = z.infer<typeof configSchema>;

const DEFAULT_SYSTEM_PROMPT =
  'Answer the question using only the numbered passages. After each statement, cite the passages it comes from as [n]. ' +
  'If the passages do not contain the answer, say so.';

/** One chunk of the stream, or the whole body of a non-streamed answer. */
const completionSchema = z.object({
  choices: z
    .array(z.object({ delta: z.object({ content: z.string().nullish() }).nullish(), message: z.object({ content: z.string().nullish() }).nullish() }))
    .nullish(),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullish(),
  error: z.unknown().optional(),
});

export function promptFor(config: OpenAIConfig, query: string, passages: readonly ModelPassage[]) {
  const context = passages.map((passage, index) => `[${index + 1}] ${passage.documentTitle}\n${passage.text}`).join('\n\n');
  return [
    { role: 'system', content: config.systemPrompt ?? DEFAULT_SYSTEM_PROMPT },
    { role: 'user', content: `Passages:\n\n${context || '(none)'}\n\nQuestion: ${query}` },
  ];
}

/**
 * The chunks whose `[n]` markers the answer uses, in marker order. One pass over the answer
 * without a regular expression or a list of matches, ending once every passage is cited: an
 * answer of `[1][1]…` built a match array per marker (58 MiB of them took 3.6 GB and 70 s).
 */
export function citedChunks(answer: string, passages: readonly ModelPassage[]): string[] {
  const cited = new Set<number>();
  for (let open = answer.indexOf('['); open !== -1 && cited.size < passages.length; open = answer.indexOf('[', open + 1)) {
    // `[` then one to three ASCII digits then `]`, as `/\[(\d{1,3})\]/` matches.
    let marker = 0;
    let at = open + 1;
    for (; at < answer.length && at <= open + 3; at++) {
      const digit = answer.charCodeAt(at) - 0x30;
      if (digit < 0 || digit > 9) break;
      marker = marker * 10 + digit;
    }
    if (at > open + 1 && answer.charCodeAt(at) === 0x5d && marker >= 1 && marker <= passages.length) cited.add(marker);
  }
  return [...cited].sort((a, b) => a - b).map((marker) => passages[marker - 1]!.chunkId);
}

class Completion {
  constructor(private readonly config: OpenAIConfig, private readonly apiKey: string | null, private readonly settings: ProviderSettings) {}

  private get answerMaxChars(): number {
    return this.settings.answerMaxChars ?? ANSWER_LIMITS.answerChars;
  }

  async *answer({ query, passages, signal }: AnswerRequest): AsyncGenerator<AnswerEvent> {
    const call = new UpstreamCall(this.settings, this.apiKey);
    const messages = promptFor(this.config, query, passages);
    // Each wait within requestTimeoutMs, and the whole answer within answerTimeoutMs: a server
    // sending a piece every few seconds kept a query (and its slot) open for as long as it liked.
    const deadline = new Deadline(this.settings.requestTimeoutMs, signal, this.settings.answerTimeoutMs);
    let answer = '';
    let usage: { prompt_tokens: number; completion_tokens: number } | null | undefined;
    try {
      const response = await call.post(this.url(), this.body(messages), 'text/event-stream, application/json', deadline);
      if (!response) return;
      if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
        const body = parse(await call.text(response, ANSWER_LIMITS.jsonBytes), call);
        answer = body.choices?.[0]?.message?.content ?? body.choices?.[0]?.delta?.content ?? '';
        if (answer.length > this.answerMaxChars) throw tooLong(call, this.answerMaxChars);
        if (answer) yield { kind: 'delta', text: answer };
        usage = body.usage;
      } else {
        const events = call.events(response);
        for (;;) {
          const { done, value: event } = await events.read();
          if (done) break;
          deadline.touch();
          if (event.data.trim() === '[DONE]') break;
          const chunk = parse(event.data, call);
          const text = chunk.choices?.[0]?.delta?.content;
          if (text) {
            if (answer.length + text.length > this.answerMaxChars) throw tooLong(call, this.answerMaxChars);
            answer += text;
            // The wait for the next piece is the model's; the time our caller takes to ask for
            // it (a consumer reading slowly, its stream held by backpressure) is not: counted,
            // it failed the answer as the model's TIMEOUT when the consumer went on reading.
            deadline.pause();
            yield { kind: 'delta', text };
            deadline.touch();
          }
          if (chunk.usage) usage = chunk.usage;
        }
      }
    } catch (error) {
      // Aborted: the server was asked and billed what it processed, so the usage it reported
      // (if it came) or the estimate is yielded below, for a caller still reading to record.
      if (!signal.aborted) throw call.failure(error, deadline);
    } finally {
      deadline.dispose();
    }
    const estimate = this.estimateUsage({ query, passages }, answer);
    yield {
      kind: 'done',
      citations: citedChunks(answer, passages),
      // Servers that do not report usage (some omit it when streaming), or report no count, get an estimate.
      usage: {
        promptTokens: reportedTokens(usage?.prompt_tokens) ?? estimate.promptTokens,
        completionTokens: reportedTokens(usage?.completion_tokens) ?? estimate.completionTokens,
      },
    };
  }

  estimateUsage({ query, passages }: Pick<AnswerRequest, 'query' | 'passages'>, answer: string): TokenUsage {
    const prompt = promptFor(this.config, query, passages).map((message) => message.content).join('\n');
    return { promptTokens: estimateTokens(prompt), completionTokens: estimateTokens(answer) };
  }

  /** One token, not streamed: the cheapest answer that proves the server, model and key work. The whole answer must come within `requestTimeoutMs`. */
  async probe(signal: AbortSignal): Promise<void> {
    const call = new UpstreamCall(this.settings, this.apiKey);
    const deadline = new Deadline(this.settings.requestTimeoutMs, signal);
    try {
      const body = JSON.stringify({ model: this.config.model, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1, stream: false });
      const response = await call.post(this.url(), body, 'application/json, text/event-stream', deadline);
      if (!response) return;
      const text = await call.text(response, ANSWER_LIMITS.probeBytes);
      // A server that streams anyway is read as its events (small: one token), all of them
      // within one count of JSON values (10 000 events of `{}` are as many values as one body).
      const streamed = (response.headers.get('content-type') ?? '').includes('text/event-stream');
      const pieces = streamed ? text.split('\n').flatMap((line) => (line.startsWith('data:') ? [line.slice(5).trim()] : [])).filter((data) => data && data !== '[DONE]') : [text];
      if (pieces.length === 0) throw call.badResponse('The model server sent an empty answer');
      const budget = { values: ANSWER_LIMITS.jsonValues };
      for (const piece of pieces) parse(piece, call, budget);
    } catch (error) {
      throw call.failure(error, deadline);
    } finally {
      deadline.dispose();
    }
  }

  private url(): string {
    return `${this.config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  private body(messages: unknown): string {
    return JSON.stringify({
      model: this.config.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(this.config.temperature !== undefined ? { temperature: this.config.temperature } : {}),
      ...(this.config.maxTokens !== undefined ? { max_tokens: this.config.maxTokens } : {}),
    });
  }
}

/** A chunk of the stream, or a whole answer: its JSON values counted before it is parsed (`UpstreamCall.json`), then checked. */
function parse(data: string, call: UpstreamCall, budget?: { values: number }): z.infer<typeof completionSchema> {
  const parsed = completionSchema.safeParse(call.json(data, budget));
  if (!parsed.success) throw call.badResponse('The model server sent something that is not a chat completion');
  if (parsed.data.error) throw call.badResponse('The model server reported an error mid-answer');
  return parsed.data;
}

/** An answer's text past its bound (SLUICE_MODEL_ANSWER_MAX_CHARS): far beyond any model's output, so refused rather than cut short silently. */
function tooLong(call: UpstreamCall, maxChars: number) {
  return call.badResponse(`The model server's answer is longer than ${maxChars} characters`);
}

registerModelType({
  kind: 'chat',
  name: 'openai-compatible',
  description: 'Chat completions, streamed, from any server that speaks the OpenAI protocol (OpenAI, vLLM, Ollama, LM Studio).',
  configSchema,
  acceptsApiKey: true,
  checkConfig: (config, settings) => checkBaseUrl(config.baseUrl, settings),
  keyDestination: (config) => new URL(config.baseUrl).origin,
  create: (config, apiKey, settings) => new Completion(config, apiKey, settings),
});

