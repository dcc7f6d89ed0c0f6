/**
 * `openai-compatible`: chat completions with `stream: true` against any server that speaks the
 * protocol (OpenAI, vLLM, Ollama, LM Studio…). The answer streams as server-sent events
 * (parsed by eventsource-parser); a server that ignores `stream` and answers with one JSON body
 * works too.
 *
 * Failure rules (docs/endpoints.md): the answer must start, and each further piece arrive,
 * within `requestTimeoutMs`; 429, 5xx and network errors before the first byte are retried up
 * to `maxRetries` times with exponential backoff and jitter, honouring `Retry-After`; anything
 * else fails at once. Errors never carry the API key or the server's body. Aborting the
 * request's signal closes the upstream connection.
 */
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { z } from 'zod';
import { UpstreamError, ValidationError } from '../../errors.js';
import { egressFor } from '../../../platform/egress/guard.js';
import { assertCallableUrl, EgressRefusedError } from '../../../platform/egress/policy.js';
import { registerModelType, type AnswerEvent, type AnswerRequest, type ModelPassage, type ProviderSettings } from '../provider.js';

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
const MAX_RETRY_DELAY_MS = 8_000;

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

/** The chunks whose `[n]` markers the answer uses, in marker order. */
export function citedChunks(answer: string, passages: readonly ModelPassage[]): string[] {
  const markers = new Set([...answer.matchAll(/\[(\d{1,3})\]/g)].map((match) => Number(match[1])));
  return [...markers].filter((marker) => marker >= 1 && marker <= passages.length).sort((a, b) => a - b).map((marker) => passages[marker - 1]!.chunkId);
}

const estimateTokens = (text: string) => Math.ceil(text.length / 4);

/**
 * An abort signal for one attempt: fires when the caller aborts, or when `timeoutMs` passes
 * without `touch()` (the answer's start, then each piece, must arrive in time).
 */
class Deadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;

  constructor(private readonly timeoutMs: number, private readonly caller: AbortSignal) {
    this.onCallerAbort = this.onCallerAbort.bind(this);
    caller.addEventListener('abort', this.onCallerAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** While waiting to retry, only the caller can end the attempt. */
  pause(): void {
    clearTimeout(this.timer);
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.timeoutMs);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller.removeEventListener('abort', this.onCallerAbort);
    // Closes the upstream connection if we stopped reading early.
    this.controller.abort();
  }

  private onCallerAbort(): void {
    this.controller.abort();
  }
}

class Completion {
  private attempts = 0;

  constructor(private readonly config: OpenAIConfig, private readonly apiKey: string | null, private readonly settings: ProviderSettings) {}

  async *answer({ query, passages, signal }: AnswerRequest): AsyncGenerator<AnswerEvent> {
    this.attempts = 0;
    const messages = promptFor(this.config, query, passages);
    const deadline = new Deadline(this.settings.requestTimeoutMs, signal);
    let answer = '';
    let usage: { prompt_tokens: number; completion_tokens: number } | null | undefined;
    try {
      const response = await this.post(messages, deadline);
      if (!response) return;
      if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
        const body = this.parse(await response.text());
        answer = body.choices?.[0]?.message?.content ?? body.choices?.[0]?.delta?.content ?? '';
        if (answer) yield { kind: 'delta', text: answer };
        usage = body.usage;
      } else {
        const events = response.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
        for (;;) {
          const { done, value: event } = await events.read();
          if (done) break;
          deadline.touch();
          if (event.data.trim() === '[DONE]') break;
          const chunk = this.parse(event.data);
          const text = chunk.choices?.[0]?.delta?.content;
          if (text) {
            answer += text;
            yield { kind: 'delta', text };
          }
          if (chunk.usage) usage = chunk.usage;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw this.failure(error, deadline);
    } finally {
      deadline.dispose();
    }
    if (signal.aborted) return;
    const prompt = messages.map((message) => message.content).join('\n');
    yield {
      kind: 'done',
      citations: citedChunks(answer, passages),
      // Servers that do not report usage (some omit it when streaming) get an estimate.
      usage: { promptTokens: usage?.prompt_tokens ?? estimateTokens(prompt), completionTokens: usage?.completion_tokens ?? estimateTokens(answer) },
    };
  }

  /** The successful response, after retries; undefined when the caller went away. */
  private async post(messages: unknown, deadline: Deadline): Promise<Response | undefined> {
    const url = `${this.config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    const body = JSON.stringify({
      model: this.config.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(this.config.temperature !== undefined ? { temperature: this.config.temperature } : {}),
      ...(this.config.maxTokens !== undefined ? { max_tokens: this.config.maxTokens } : {}),
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream, application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    for (;;) {
      this.attempts += 1;
      let response: Response | undefined;
      try {
        response = await egressFor(this.settings.privateNetworks).fetch(url, { method: 'POST', headers, body, signal: deadline.signal, redirect: 'error' });
      } catch (error) {
        if (error instanceof EgressRefusedError) throw new UpstreamError(error.message, { reason: error.reason, attempts: this.attempts });
        if (deadline.signal.aborted || this.attempts > this.settings.maxRetries) throw error;
      }
      if (response?.ok) return response;
      if (response && !retryable(response.status)) throw this.httpError(response);
      if (this.attempts > this.settings.maxRetries) throw this.httpError(response!);
      await response?.body?.cancel();
      if (!(await sleep(this.retryDelay(response), deadline))) return undefined;
    }
  }

  private retryDelay(response: Response | undefined): number {
    const exponential = Math.min(MAX_RETRY_DELAY_MS, this.settings.retryBaseDelayMs * 2 ** (this.attempts - 1));
    const jittered = exponential / 2 + Math.random() * (exponential / 2);
    const retryAfter = retryAfterMs(response?.headers.get('retry-after'));
    return Math.min(MAX_RETRY_DELAY_MS, Math.max(jittered, retryAfter ?? 0));
  }

  private parse(data: string): z.infer<typeof completionSchema> {
    let parsed: z.infer<typeof completionSchema>;
    try {
      parsed = completionSchema.parse(JSON.parse(data));
    } catch {
      throw new UpstreamError('The model server sent something that is not a chat completion', { reason: 'BAD_RESPONSE', attempts: this.attempts });
    }
    if (parsed.error) throw new UpstreamError('The model server reported an error mid-answer', { reason: 'BAD_RESPONSE', attempts: this.attempts });
    return parsed;
  }

  private httpError(response: Response): UpstreamError {
    void response.body?.cancel().catch(() => undefined);
    return new UpstreamError(`The model server answered HTTP ${response.status}`, { reason: 'HTTP_ERROR', status: response.status, attempts: this.attempts });
  }

  private failure(error: unknown, deadline: Deadline): UpstreamError {
    if (error instanceof UpstreamError) return error;
    if (deadline.timedOut) {
      return new UpstreamError(`The model server did not answer within ${this.settings.requestTimeoutMs} ms`, { reason: 'TIMEOUT', attempts: this.attempts });
    }
    return new UpstreamError('The model server could not be reached', { reason: 'NETWORK', attempts: this.attempts });
  }
}

function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds. */
function retryAfterMs(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Waits, unless the caller goes away first (false then). The deadline does not run while waiting. */
function sleep(ms: number, deadline: Deadline): Promise<boolean> {
  deadline.pause();
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      deadline.signal.removeEventListener('abort', onAbort);
      deadline.touch();
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    deadline.signal.addEventListener('abort', onAbort, { once: true });
  });
}

registerModelType({
  name: 'openai-compatible',
  description: 'Chat completions, streamed, from any server that speaks the OpenAI protocol (OpenAI, vLLM, Ollama, LM Studio).',
  configSchema,
  acceptsApiKey: true,
  checkConfig(config, settings) {
    try {
      assertCallableUrl(settings.privateNetworks, config.baseUrl);
    } catch (error) {
      if (error instanceof EgressRefusedError) throw new ValidationError(`config.baseUrl: ${error.message}`, { field: 'config.baseUrl', reason: error.reason });
      throw error;
    }
  },
  create: (config, apiKey, settings) => new Completion(config, apiKey, settings),
});

