/**
 * What the product did, as Prometheus series a dashboard needs (issue 22, item 4): endpoint
 * queries, model calls, policy decisions, ingestion volume and refused credentials. Domains
 * report through the small `ProductMeter` interface; this module turns the reports into
 * prom-client series on the process's registry, the one `/metrics` serves.
 *
 * Every label set is bounded: outcomes are folded into a fixed list here, whatever a caller
 * passes; `endpoint_id` and `model_id` name rows that exist (reported only after the endpoint
 * or model was found), like the health series do; kinds and reasons come from the code.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** How a query or a model call ended. */
export type CallOutcome = 'ok' | 'error' | 'cancelled';
/**
 * What a model was called for: an endpoint's answer (`chat`), text embedded for ingestion or a
 * semantic query (`embedding`), or a check of the model (`test`: `testModel` and the worker's
 * health checks).
 */
export type ModelCallKind = 'chat' | 'embedding' | 'test';
/** A policy decision: the endpoint's policies allowed or denied, or the platform refused first. */
export type DecisionOutcome = 'allowed' | 'denied' | 'refused';

export interface ProductMeter {
  /** A query that ran (passed its policies), with its time from admission to the last event. */
  endpointQuery(endpointId: string, outcome: CallOutcome, seconds: number): void;
  /** A model call of any kind: its time and the tokens the model reported (embeddings: prompt only). */
  modelCall(modelId: string, kind: ModelCallKind, outcome: CallOutcome, seconds: number, tokens: { prompt: number; completion: number }): void;
  /** A decision in an endpoint's decision log; `rule` is the denying policy's type, or what refused. */
  policyDecision(outcome: DecisionOutcome, rule: string | null): void;
  /** One ingestion input settled: `outcome` is INDEXED, REPLACED, UNCHANGED or FAILED. */
  ingestedInput(outcome: string, volume: { bytes: number; documents: number; chunks: number }): void;
  /** A credential refused: its kind (apiKey, accessToken, …) and why (unknown, expired, …). */
  credentialFailure(credential: string, reason: string): void;
  /** A semantic search the HNSW index answered short of the rows its filters hold, searched again exactly. */
  vectorSearchExactFallback(): void;
}

const INGESTION_OUTCOMES = new Set(['INDEXED', 'REPLACED', 'UNCHANGED', 'FAILED']);
const MODEL_CALL_KINDS = new Set<string>(['chat', 'embedding', 'test'] satisfies ModelCallKind[]);
/** Kinds and reasons are code-defined words; anything else is folded, never a new series. */
const WORD = /^[A-Za-z][\w-]{0,39}$/;
const word = (value: string | null | undefined, fallback: string) => (value && WORD.test(value) ? value : fallback);

/** Seconds: an endpoint query or a model answer runs from tens of milliseconds to minutes. */
const CALL_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class ProductMetrics implements ProductMeter {
  private readonly queryDuration: Histogram<'endpoint_id' | 'outcome'>;
  private readonly modelDuration: Histogram<'model_id' | 'kind' | 'outcome'>;
  private readonly modelTokens: Counter<'model_id' | 'kind' | 'direction'>;
  private readonly decisions: Counter<'outcome' | 'rule'>;
  private readonly ingestionBytes: Counter<'outcome'>;
  private readonly ingestionDocuments: Counter<'outcome'>;
  private readonly ingestionChunks: Counter<'outcome'>;
  private readonly credentialFailures: Counter<'credential' | 'reason'>;
  private readonly exactFallbacks: Counter;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.queryDuration = new Histogram({
      name: 'sluice_endpoint_query_duration_seconds',
      help: 'Endpoint queries that passed their policies, from admission to the last event, by endpoint and outcome',
      labelNames: ['endpoint_id', 'outcome'],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.modelDuration = new Histogram({
      name: 'sluice_model_call_duration_seconds',
      help: "Model calls, from the request to the answer's end, by model, kind (chat, embedding, test) and outcome",
      labelNames: ['model_id', 'kind', 'outcome'],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.modelTokens = new Counter({
      name: 'sluice_model_tokens_total',
      help: 'Tokens models reported, by model, kind (chat, embedding, test) and direction (prompt, completion)',
      labelNames: ['model_id', 'kind', 'direction'],
      registers,
    });
    this.decisions = new Counter({
      name: 'sluice_policy_decisions_total',
      help: "Decisions in endpoints' decision logs: allowed or denied by their policies (rule: the denying policy type), or refused by the platform first (rule: why)",
      labelNames: ['outcome', 'rule'],
      registers,
    });
    this.ingestionBytes = new Counter({ name: 'sluice_ingestion_bytes_total', help: 'Bytes of ingestion inputs settled, by outcome', labelNames: ['outcome'], registers });
    this.ingestionDocuments = new Counter({ name: 'sluice_ingestion_documents_total', help: 'Documents written from ingestion inputs (an input that failed: 0), by outcome', labelNames: ['outcome'], registers });
    this.ingestionChunks = new Counter({ name: 'sluice_ingestion_chunks_total', help: 'Chunks written from ingestion inputs, by outcome', labelNames: ['outcome'], registers });
    this.credentialFailures = new Counter({ name: 'sluice_credential_failures_total', help: 'Credentials refused, by kind and reason', labelNames: ['credential', 'reason'], registers });
    this.exactFallbacks = new Counter({
      name: 'sluice_vector_search_exact_fallbacks_total',
      help: 'Semantic searches whose HNSW scan stopped (hnsw.max_scan_tuples) short of the rows their filters hold, searched again exactly',
      registers,
    });
  }

  endpointQuery(endpointId: string, outcome: CallOutcome, seconds: number): void {
    this.queryDuration.observe({ endpoint_id: endpointId, outcome }, seconds);
  }

  modelCall(modelId: string, kind: ModelCallKind, outcome: CallOutcome, seconds: number, tokens: { prompt: number; completion: number }): void {
    const called = MODEL_CALL_KINDS.has(kind) ? kind : 'other';
    this.modelDuration.observe({ model_id: modelId, kind: called, outcome }, seconds);
    this.modelTokens.inc({ model_id: modelId, kind: called, direction: 'prompt' }, tokens.prompt);
    // Embeddings have no completion: no series that is always 0.
    if (called !== 'embedding') this.modelTokens.inc({ model_id: modelId, kind: called, direction: 'completion' }, tokens.completion);
  }

  policyDecision(outcome: DecisionOutcome, rule: string | null): void {
    this.decisions.inc({ outcome, rule: outcome === 'allowed' ? 'none' : word(rule, 'other') });
  }

  ingestedInput(outcome: string, volume: { bytes: number; documents: number; chunks: number }): void {
    const label = { outcome: INGESTION_OUTCOMES.has(outcome) ? outcome : 'OTHER' };
    this.ingestionBytes.inc(label, volume.bytes);
    this.ingestionDocuments.inc(label, volume.documents);
    this.ingestionChunks.inc(label, volume.chunks);
  }

  credentialFailure(credential: string, reason: string): void {
    this.credentialFailures.inc({ credential: word(credential, 'other'), reason: word(reason, 'other') });
  }

  vectorSearchExactFallback(): void {
    this.exactFallbacks.inc();
  }
}

/** A query's or a model call's recorded outcome (`ok`, `CANCELLED`, an error code) as a label. */
export function callOutcome(outcome: string): CallOutcome {
  return outcome === 'ok' ? 'ok' : outcome === 'CANCELLED' ? 'cancelled' : 'error';
}
