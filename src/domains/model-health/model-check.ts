/**
 * One health check of one model: the cheapest real request through its own client (so the
 * same egress guard, timeout and sealed key as a query): a one-token completion for a chat
 * model, the embedding of one word for an embeddings model. A model that calls no server
 * (`extractive`) answers at once without a request. One attempt, no retries: a check measures
 * the server, and the next round is the retry. An embeddings model whose vector is not of the
 * length of those it stored in the tenant's datasets failed: every semantic query over them
 * would (datasets/vector-dimension.ts).
 */
import { dimensionChanged } from '../datasets/vector-dimension.js';
import { CodedError } from '../errors.js';
import { embedderFor, modelClient, modelKind } from '../models/model.service.js';
import type { Model } from '../models/model.entity.js';
import type { ServiceDependencies } from '../service-context.js';
import type { Logger } from '../../platform/logging/logger.js';
import { redact } from '../../platform/logging/redaction.js';
import type { CheckOutcome } from './health-rules.js';

/**
 * What calling a model needs of the process: the master key that opens its API key, the
 * providers' settings, and where checks are counted for /metrics (kind `test`; absent: not counted).
 */
export type ModelAccess = Pick<ServiceDependencies, 'secrets' | 'modelSettings' | 'meter'>;

/** What a check needs of the model's row. */
export type CheckedModel = Pick<Model, 'id' | 'name' | 'type' | 'config' | 'apiKeyCiphertext' | 'apiKeyKeyId' | 'promptMicrosPer1k'>;

const MAX_ERROR_CHARS = 500;

export interface CheckOptions {
  /** For an embeddings model, the length of the vectors it stored in the tenant's datasets (storedVectorDimension); undefined: none yet. */
  storedDimension?: number;
  /** A shorter wait than the model's own timeout (the worker's checks: SLUICE_HEALTH_TIMEOUT_MS); never a longer one. */
  timeoutMs?: number;
  log?: Logger;
}

export async function checkModel(access: ModelAccess, model: CheckedModel, signal: AbortSignal, options: CheckOptions = {}): Promise<CheckOutcome> {
  const outcome = await check(access, model, signal, options);
  // Counted as one `test` call, not also as the `embedding` call it makes (no meter below).
  access.meter?.modelCall(model.id, 'test', outcome.ok ? 'ok' : signal.aborted ? 'cancelled' : 'error', outcome.ok ? outcome.latencyMs / 1000 : outcome.seconds, {
    prompt: outcome.promptTokens,
    completion: 0,
  });
  return outcome.ok ? { ok: true, latencyMs: outcome.latencyMs } : { ok: false, error: outcome.error };
}

type Checked = ({ ok: true; latencyMs: number } | { ok: false; error: string; seconds: number }) & { promptTokens: number };

async function check(access: ModelAccess, model: CheckedModel, signal: AbortSignal, { storedDimension, timeoutMs, log }: CheckOptions): Promise<Checked> {
  const requestTimeoutMs = Math.min(access.modelSettings.requestTimeoutMs, timeoutMs ?? Infinity);
  const once = { secrets: access.secrets, modelSettings: { ...access.modelSettings, requestTimeoutMs, maxRetries: 0 } };
  const started = performance.now();
  let promptTokens = 0;
  try {
    if (modelKind(model) === 'embeddings') {
      const { vectors, usage } = await embedderFor(once, model).embed(['ping'], signal, { dimension: storedDimension });
      promptTokens = usage.promptTokens;
      const sent = vectors[0]!.length;
      if (storedDimension !== undefined && sent !== storedDimension) throw dimensionChanged(sent, storedDimension);
    } else {
      const client = modelClient(once, model);
      if (!client.probe) return { ok: true, latencyMs: 0, promptTokens };
      await client.probe(signal);
    }
    return { ok: true, latencyMs: performance.now() - started, promptTokens };
  } catch (error) {
    // 400/422: the server answered, refusing only the probe's own parameters (some models
    // want `max_completion_tokens`, not `max_tokens`): alive, not a reason to refuse queries.
    if (error instanceof CodedError && error.details.reason === 'HTTP_ERROR' && (error.details.status === 400 || error.details.status === 422)) {
      return { ok: true, latencyMs: performance.now() - started, promptTokens };
    }
    if (!(error instanceof CodedError)) log?.warn({ err: error, modelId: model.id }, 'a model health check failed unexpectedly');
    return { ok: false, error: describeFailure(error), seconds: (performance.now() - started) / 1000, promptTokens };
  }
}

/**
 * What a failed check says: the coded error's reason and message (they never carry a key or
 * the server's body: models/providers/openai-http.ts), through the log redaction (which also
 * removes credentials in a URL), as a second net. Anything uncoded is not described.
 */
export function describeFailure(error: unknown): string {
  const text =
    error instanceof CodedError
      ? `${typeof error.details.reason === 'string' ? `${error.details.reason}: ` : ''}${error.message}`
      : 'The check failed unexpectedly';
  return redact(text).slice(0, MAX_ERROR_CHARS);
}
