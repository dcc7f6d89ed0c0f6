/**
 * `openai-compatible-embeddings`: `POST {baseUrl}/embeddings` against any server that speaks the
 * protocol (OpenAI, Ollama, vLLM, LM Studio, llama.cpp's server, Hugging Face TEI). Texts go in
 * batches of `batchSize`, one request each, `dimensions` passed when configured (servers that
 * shorten vectors honour it; the answer must then have exactly that many).
 *
 * Same failure rules as chat (openai-http.ts): each request must answer within
 * `requestTimeoutMs`, 429, 500, 502, 503, 504 and network errors are retried with backoff. An answer that is not
 * what the protocol promises (wrong count, indexes out of range, vectors of different or wrong
 * dimension, numbers that are not finite, a vector of zeros) is an UPSTREAM_ERROR with reason
 * BAD_RESPONSE: a vector stored wrong would silently spoil every search over it.
 */
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import { registerModelType, reportedTokens, type EmbeddingClient, type Embeddings, type ProviderSettings } from '../provider.js';
import { checkBaseUrl, Deadline, UpstreamCall } from './openai-http.js';

const configSchema = z.strictObject({
  /** Up to and including the API version, e.g. `https://api.openai.com/v1`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  model: z.string().min(1).max(255),
  /** Asked of the server (OpenAI's text-embedding-3 models shorten to it); checked on every answer. */
  dimensions: z.int().min(1).max(16_000).optional(),
  /** Texts per request (OpenAI accepts up to 2048; local servers often far fewer). */
  batchSize: z.int().min(1).max(2048).default(64),
});
type EmbeddingConfig = z.infer<typeof configSchema>;

/** At most this many texts in one `embed` call (the caller batches above it). */
const MAX_TEXTS = 100_000;

const embeddingResponseSchema = z.object({
  data: z.array(z.object({ index: z.int().min(0).optional(), embedding: z.array(z.number()) })),
  usage: z.object({ prompt_tokens: z.number().optional(), total_tokens: z.number().optional() }).nullish(),
});

const estimateTokens = (text: string) => Math.ceil(text.length / 4);

/**
 * The largest embeddings answer read: 32 bytes a number (a float written out in JSON, with its
 * separator, is at most about 25) for `count` vectors of the dimension expected (8192 while
 * unknown: larger than any common model's), plus 64 KiB for the rest, at most 256 MiB. A
 * server sending more is a BAD_RESPONSE, read no further (ANSWER_LIMITS in openai-http.ts).
 */
const answerBytes = (count: number, dimension: number | undefined) => Math.min(256 * 1024 * 1024, 64 * 1024 + count * (dimension ?? 8192) * 32);

class OpenAIEmbeddings implements EmbeddingClient {
  constructor(private readonly config: EmbeddingConfig, private readonly apiKey: string | null, private readonly settings: ProviderSettings) {}

  async embed(texts: readonly string[], signal: AbortSignal = new AbortController().signal): Promise<Embeddings> {
    if (texts.length > MAX_TEXTS) throw new ValidationError(`At most ${MAX_TEXTS} texts per embed call`, { field: 'texts' });
    const vectors: number[][] = [];
    let promptTokens = 0;
    let dimension = this.config.dimensions;
    for (let start = 0; start < texts.length; start += this.config.batchSize) {
      const batch = texts.slice(start, start + this.config.batchSize);
      const answer = await this.embedBatch(batch, dimension, signal);
      dimension ??= answer.vectors[0]?.length;
      vectors.push(...answer.vectors);
      promptTokens += answer.promptTokens;
    }
    return { vectors, usage: { promptTokens } };
  }

  /** One request; `dimension` (configured, or set by the first batch) every vector must have. */
  private async embedBatch(batch: readonly string[], dimension: number | undefined, signal: AbortSignal) {
    const call = new UpstreamCall(this.settings, this.apiKey);
    const deadline = new Deadline(this.settings.requestTimeoutMs, signal);
    const body = JSON.stringify({
      model: this.config.model,
      input: batch,
      encoding_format: 'float',
      ...(this.config.dimensions !== undefined ? { dimensions: this.config.dimensions } : {}),
    });
    let text: string;
    try {
      const response = await call.post(`${this.config.baseUrl.replace(/\/+$/, '')}/embeddings`, body, 'application/json', deadline);
      if (!response) throw new Error('aborted');
      text = await call.text(response, answerBytes(batch.length, dimension));
    } catch (error) {
      if (signal.aborted) throw new DOMException('The embedding request was cancelled', 'AbortError');
      throw call.failure(error, deadline);
    } finally {
      deadline.dispose();
    }
    const answer = validAnswer(text, batch.length, dimension, call);
    return { vectors: answer.vectors, promptTokens: tokensOf(answer.usage, batch) };
  }
}

/** The vectors of an answer in input order (and its usage), or BAD_RESPONSE. */
function validAnswer(text: string, count: number, dimension: number | undefined, call: UpstreamCall) {
  let parsed: z.infer<typeof embeddingResponseSchema>;
  try {
    parsed = embeddingResponseSchema.parse(JSON.parse(text));
  } catch {
    throw call.badResponse('The model server sent something that is not an embeddings answer');
  }
  if (parsed.data.length !== count) throw call.badResponse(`The model server sent ${parsed.data.length} vectors for ${count} texts`);
  const vectors = new Array<number[] | undefined>(count);
  for (const [position, item] of parsed.data.entries()) {
    // Servers give each vector its input's index; those that omit it answer in order.
    const index = item.index ?? position;
    if (index >= count || vectors[index]) throw call.badResponse('The model server sent vectors with missing or repeated indexes');
    vectors[index] = item.embedding;
  }
  const expected = dimension ?? vectors[0]!.length;
  for (const vector of vectors as number[][]) {
    if (vector.length === 0 || vector.length !== expected) {
      throw call.badResponse(`The model server sent a vector of dimension ${vector.length} where ${expected} was expected`);
    }
    if (!vector.every(Number.isFinite)) throw call.badResponse('The model server sent a vector with numbers that are not finite');
    // No direction: stored, it would be similar to nothing; as a question, to everything alike.
    if (vector.every((value) => value === 0)) throw call.badResponse('The model server sent a vector of zeros');
  }
  return { vectors: vectors as number[][], usage: parsed.usage };
}

/** The tokens the server reports for a batch; an estimate when it reports none (some local servers) or no count (provider.ts, reportedTokens). */
function tokensOf(usage: z.infer<typeof embeddingResponseSchema>['usage'], batch: readonly string[]): number {
  return reportedTokens(usage?.prompt_tokens ?? usage?.total_tokens) ?? batch.reduce((sum, input) => sum + estimateTokens(input), 0);
}

registerModelType({
  kind: 'embeddings',
  name: 'openai-compatible-embeddings',
  description:
    'Embeddings from any server that speaks the OpenAI /v1/embeddings protocol (OpenAI, Ollama, vLLM, LM Studio, llama.cpp, Hugging Face TEI). Not an answering model.',
  configSchema,
  acceptsApiKey: true,
  checkConfig: (config, settings) => checkBaseUrl(config.baseUrl, settings),
  create: (config, apiKey, settings) => new OpenAIEmbeddings(config, apiKey, settings),
});
