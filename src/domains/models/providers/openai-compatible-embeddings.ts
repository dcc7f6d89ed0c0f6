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
import { estimateTokens, registerModelType, reportedTokens, type EmbeddingClient, type Embeddings, type ProviderSettings } from '../provider.js';
import { countSeparators, maxSeparators, tooManyNumbers, type AnswerShape, type Usage } from './embedding-answer.js';
import { readAnswer } from './embedding-answers.js';
import { checkBaseUrl, Deadline, UpstreamCall } from './openai-http.js';

/**
 * The longest vector Sluice reads, and so the largest `dimensions` a model may ask for: twice the
 * longest common model's (3 072, 4 096). It bounds an answer whose dimension nothing says yet
 * (`answerBytes`, `maxSeparators`). Storage and search allow it: `real[]` has no limit, pgvector's
 * `vector` (exact search) 16 000, its HNSW index 2 000 (longer vectors are searched exactly).
 * Until 2026-12-07 `dimensions` went to 16 000 while answers over 8 192 were refused: such a
 * model could never answer.
 */
const MAX_DIMENSION = 8192;

const configSchema = z.strictObject({
  /** Up to and including the API version, e.g. `https://api.openai.com/v1`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  model: z.string().min(1).max(255),
  /** Asked of the server (OpenAI's text-embedding-3 models shorten to it); checked on every answer. */
  dimensions: z.int().min(1).max(MAX_DIMENSION, { error: `must be at most ${MAX_DIMENSION}, the longest vector Sluice reads` }).optional(),
  /** Texts per request (OpenAI accepts up to 2048; local servers often far fewer). */
  batchSize: z.int().min(1).max(2048).default(64),
});
type EmbeddingConfig = z.infer<typeof configSchema>;

/** At most this many texts in one `embed` call (the caller batches above it). */
const MAX_TEXTS = 100_000;

/**
 * The largest embeddings answer read, from what was asked: 32 bytes a number (a float written
 * out in JSON, with its separator and a pretty-printer's indent, as OpenAI sends it, is at most
 * about 31) for `count` vectors of `dimension`, 512 bytes a vector for its other fields, plus
 * 64 KiB for the rest; at most 256 MiB. A server sending more is a BAD_RESPONSE, read no
 * further (ANSWER_LIMITS in openai-http.ts). Beside it, the numbers themselves are bounded as
 * they arrive (embedding-answer.ts, maxSeparators): `[1,0,0,…]` is 2 bytes a number.
 */
const answerBytes = (count: number, dimension: number) => Math.min(256 * 1024 * 1024, 64 * 1024 + count * (512 + dimension * 32));

class OpenAIEmbeddings implements EmbeddingClient {
  constructor(private readonly config: EmbeddingConfig, private readonly apiKey: string | null, private readonly settings: ProviderSettings) {}

  async embed(texts: readonly string[], signal: AbortSignal = new AbortController().signal, expected: { dimension?: number } = {}): Promise<Embeddings> {
    if (texts.length > MAX_TEXTS) throw new ValidationError(`At most ${MAX_TEXTS} texts per embed call`, { field: 'texts' });
    const vectors: Float32Array[] = [];
    let promptTokens = 0;
    // Every vector must have it once known: configured, or set by the first batch.
    let dimension = this.config.dimensions;
    for (let start = 0; start < texts.length; start += this.config.batchSize) {
      const batch = texts.slice(start, start + this.config.batchSize);
      const answer = await this.embedBatch(batch, { dimension, bound: dimension ?? expected.dimension ?? MAX_DIMENSION }, signal);
      dimension ??= answer.dimension;
      // Views of the batch's one buffer (moved from the answer thread, not copied).
      for (let index = 0; index < batch.length; index++) vectors.push(answer.vectors.subarray(index * answer.dimension, (index + 1) * answer.dimension));
      promptTokens += tokensOf(answer.usage, batch);
    }
    return { vectors, usage: { promptTokens } };
  }

  /**
   * One request. `dimension`: what every vector must have (configured, or set by an earlier
   * batch); `bound`: the dimension the answer's size is bounded by (that one, else the
   * caller's expectation, such as the dataset's stored vectors, else MAX_DIMENSION).
   */
  private async embedBatch(batch: readonly string[], { dimension, bound }: { dimension: number | undefined; bound: number }, signal: AbortSignal) {
    const call = new UpstreamCall(this.settings, this.apiKey);
    const deadline = new Deadline(this.settings.requestTimeoutMs, signal);
    const body = JSON.stringify({
      model: this.config.model,
      input: batch,
      encoding_format: 'float',
      ...(this.config.dimensions !== undefined ? { dimensions: this.config.dimensions } : {}),
    });
    const bounds: AnswerShape = { count: batch.length, dimension: bound, maxDimension: bound };
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      const response = await call.post(`${this.config.baseUrl.replace(/\/+$/, '')}/embeddings`, body, 'application/json', deadline);
      if (!response) throw new Error('aborted');
      bytes = await call.bytes(response, answerBytes(batch.length, bound), numbersWithin(bounds, call));
    } catch (error) {
      if (signal.aborted) throw new DOMException('The embedding request was cancelled', 'AbortError');
      throw call.failure(error, deadline);
    } finally {
      deadline.dispose();
    }
    const read = await readAnswer(bytes, { count: batch.length, dimension, maxDimension: MAX_DIMENSION });
    if (!read.ok) throw call.badResponse(read.message);
    return read;
  }
}

/** Stops reading once the answer holds more numbers than `shape` can (maxSeparators), as it arrives. */
function numbersWithin(shape: AnswerShape, call: UpstreamCall): (piece: Uint8Array) => void {
  const most = maxSeparators(shape);
  let separators = 0;
  return (piece) => {
    separators += countSeparators(piece);
    if (separators > most) throw call.badResponse(tooManyNumbers(shape));
  };
}

/** The tokens the server reports for a batch; an estimate when it reports none (some local servers) or no count (provider.ts, reportedTokens). */
function tokensOf(usage: Usage, batch: readonly string[]): number {
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
  keyDestination: (config) => new URL(config.baseUrl).origin,
  create: (config, apiKey, settings) => new OpenAIEmbeddings(config, apiKey, settings),
});
