/**
 * Model providers: what answers a question from retrieved passages (kind `chat`) or turns
 * text into vectors (kind `embeddings`). Each type is one file
 * under providers/ that calls `registerModelType` when imported; nothing else in the code
 * names a type, so a new provider is a new file (plus its line in providers/index.ts).
 */
import type { z } from 'zod';
import type { PrivateNetworkPolicy } from '../../platform/egress/policy.js';
import type { Logger } from '../../platform/logging/logger.js';

/** A passage handed to a model: retrieved chunk text with where it came from. */
export interface ModelPassage {
  chunkId: string;
  documentTitle: string;
  text: string;
  score: number;
}

export interface AnswerRequest {
  query: string;
  passages: readonly ModelPassage[];
  /** Aborted when the caller goes away: a provider must stop (and cancel any upstream call). */
  signal: AbortSignal;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/**
 * The largest token count a model server's usage may report for one call. Ten million is beyond
 * any model's context window, and far enough below 2^31 − 1 (the usage record's 32-bit columns)
 * that a record's sum of counts (prompt, completion, the question's embedding) always fits: at
 * 2^31 − 1 each, 2 147 483 000 + 1 000 prompt and completion tokens overflowed `total_tokens`
 * and no usage record was written at all (no cost, no charge, INTERNAL to the caller).
 */
export const MAX_REPORTED_TOKENS = 10_000_000;

/**
 * A token count a model server reported, when it is one: a whole number from 0 to
 * MAX_REPORTED_TOKENS. Anything else (negative, fractional, 3e9, not a number) is not a count,
 * and the caller estimates instead, as for a server that reports none: a server's number must
 * not become a failed usage record (INTERNAL to the caller, a queue retry for a job).
 */
export function reportedTokens(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_REPORTED_TOKENS ? value : undefined;
}

/** Tokens a text is estimated at when a server reports none: 4 characters a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** What a model streams, in order: text pieces, then (once) the chunks it cited and its usage. */
export type AnswerEvent =
  | { kind: 'delta'; text: string }
  | { kind: 'done'; citations: string[]; usage: TokenUsage };

export interface ModelClient {
  answer(request: AnswerRequest): AsyncIterable<AnswerEvent>;
  /**
   * What a call consumed when it ended before its `done` (the caller went away, the answer
   * failed or took too long): the prompt this type sends and `answer`, the text streamed so far,
   * estimated. A server bills what it processed, so the query is charged it (docs/endpoints.md).
   */
  estimateUsage(request: Pick<AnswerRequest, 'query' | 'passages'>, answer: string): TokenUsage;
  /**
   * The health check's request (model-health/): the cheapest real call (one token), resolving
   * when the server answered as the protocol says. Absent for a model that calls no server
   * (`extractive`): always healthy.
   */
  probe?(signal: AbortSignal): Promise<void>;
}

/** What a model is for: endpoints answer with `chat` models; `embeddings` models turn text into vectors. */
export type ModelKind = 'chat' | 'embeddings';

/**
 * Vectors for texts, in their order, and the tokens the server counted for them. Float32Array:
 * what is stored (`real[]`), and one buffer a batch that crosses from the thread that read the
 * answer without a copy (providers/embedding-answers.ts).
 */
export interface Embeddings {
  vectors: Float32Array[];
  usage: { promptTokens: number };
}

export interface EmbeddingClient {
  /**
   * Batched as the type sees fit; every vector has the same dimension. `signal` cancels the
   * upstream call. `expected.dimension`, when the caller knows it (a dataset's stored vectors),
   * bounds how large an answer may be: a server sending more is a BAD_RESPONSE.
   */
  embed(texts: readonly string[], signal?: AbortSignal, expected?: { dimension?: number }): Promise<Embeddings>;
}

/** Process-wide settings a provider may need (timeouts, retries); not per model. */
export interface ProviderSettings {
  /** The longest wait for a call's first byte, and between the pieces of a streamed answer. */
  requestTimeoutMs: number;
  /** The longest a streamed answer may take in all (SLUICE_MODEL_ANSWER_TIMEOUT_MS); absent: no limit beyond `requestTimeoutMs` between pieces. */
  answerTimeoutMs?: number;
  /** The longest answer text accepted (SLUICE_MODEL_ANSWER_MAX_CHARS); absent: ANSWER_LIMITS.answerChars. */
  answerMaxChars?: number;
  maxRetries: number;
  /** The first retry's delay; each further one doubles (with jitter), capped at 8 s. */
  retryBaseDelayMs: number;
  /** Whether model servers may be in private networks (src/platform/egress). */
  privateNetworks: PrivateNetworkPolicy;
  /** Sent as `Sluice-Hop` with every call: this deployment's doors refuse what carries it (platform/http/call-loops.ts). */
  hopMark?: string;
  /** The operator's log, for what a caller is not told (an egress refusal of what a name resolved to). */
  log?: Pick<Logger, 'warn'>;
}

interface ModelTypeBase<Config extends Record<string, unknown>> {
  /** The `type` clients give (`extractive`, `openai-compatible`, `openai-compatible-embeddings`). */
  name: string;
  description: string;
  /** Validates the non-secret configuration; its messages reach the client. */
  configSchema: z.ZodType<Config>;
  /** Whether the type takes an API key (stored encrypted, never returned). */
  acceptsApiKey: boolean;
  /**
   * Where the type sends its API key: the origin (scheme, host, port) of the server it calls;
   * null for a type that calls none. A stored key is bound to it (models/model-key.ts): a
   * change of it needs the key given again, and a key sealed for one origin opens for no other.
   */
  keyDestination(config: Config): string | null;
  /** Checks a valid configuration against the server's settings (e.g. where it may call); its message reaches the client. */
  checkConfig?(config: Config, settings: ProviderSettings): void;
}

export interface ChatModelType<Config extends Record<string, unknown> = Record<string, unknown>> extends ModelTypeBase<Config> {
  kind: 'chat';
  create(config: Config, apiKey: string | null, settings: ProviderSettings): ModelClient;
}

export interface EmbeddingModelType<Config extends Record<string, unknown> = Record<string, unknown>> extends ModelTypeBase<Config> {
  kind: 'embeddings';
  create(config: Config, apiKey: string | null, settings: ProviderSettings): EmbeddingClient;
}

export type ModelType<Config extends Record<string, unknown> = Record<string, unknown>> = ChatModelType<Config> | EmbeddingModelType<Config>;

const types = new Map<string, ModelType<any>>();

export function registerModelType<Config extends Record<string, unknown>>(type: ModelType<Config>): void {
  if (types.has(type.name)) throw new Error(`model type ${type.name} is registered twice`);
  types.set(type.name, type);
}

export function modelType(name: string): ModelType | undefined {
  return types.get(name);
}

export function modelTypes(): ModelType[] {
  return [...types.values()];
}
