/**
 * Retrieval by the endpoint's mode: KEYWORD (the full-text retriever), SEMANTIC (embedding
 * similarity, endpoints/semantic-retriever.ts) or HYBRID (both, fused by reciprocal rank).
 *
 * Planned first, in the query's first transaction (which datasets have a serving embedding
 * model, and the embedders for those models); run later: the question is embedded once per
 * serving model with no transaction open (an HTTP call), then every ranking runs in one
 * transaction, bound to the endpoint's tenant, so RLS confines keyword and semantic search
 * alike; that transaction first checks, in its own snapshot, that the serving models are still
 * those the question was embedded by (a re-embedding's switch deletes the old vectors). A keyword ranking needs nothing from outside the database: `rankNow` runs it in the
 * planning transaction itself, saving the query a transaction.
 * Datasets without a serving embedding model (none named, or their vectors still being
 * written) contribute nothing to the semantic ranking.
 */
import { IsolationLevel, type EntityManager } from '@mikro-orm/postgresql';
import { Dataset } from '../datasets/dataset.entity.js';
import type { ReadEndpoint } from '../endpoints/endpoint-read.js';
import { RRF_K, usesVectors, type RetrievalMode } from '../endpoints/retrieval-mode.js';
import { readSemanticQuery, retrieverNamed, type RetrievedPassage } from '../endpoints/retriever.js';
import { semanticSearch, type EmbeddedQuestion } from '../endpoints/semantic-retriever.js';
import { collapsed, readCollapsed } from './passages-per-document.js';
import { inQuerySlot } from './query-slots.js';
import { embedderFor, type Embedder } from '../models/model.service.js';
import { assertAvailable, isDown } from '../model-health/health-rules.js';
import type { ServiceContext } from '../service-context.js';
import { UpstreamError } from '../errors.js';

/** How deep each ranking is read before fusion: a passage second in one list and 70th in the other still counts. */
export const fusionDepth = (topK: number) => Math.max(50, 4 * topK);

export interface RankedPassage extends RetrievedPassage {
  /** Where each ranking placed the passage (1 is first); null where it did not place it. */
  ranks: { keyword: number | null; semantic: number | null };
}

/** Tokens and cost of embedding the question (priced at the embeddings model's prompt price). */
export interface EmbeddingUsage {
  promptTokens: number;
  costMicros: number;
}

export interface RetrievalPlan {
  mode: RetrievalMode;
  /** The keyword ranking, in the caller's open transaction `tx`; undefined for modes that embed the question first. */
  rankNow?: (tx: EntityManager) => Promise<RankedPassage[]>;
  /** Embeds the question (no transaction open), then ranks in a transaction of its own. */
  run(signal: AbortSignal): Promise<{ passages: RankedPassage[]; usage: EmbeddingUsage }>;
}

interface ModelGroup {
  modelId: string;
  datasetIds: string[];
  embedder: Embedder;
}

/** `tx`: the caller's open transaction, bound to the endpoint's tenant; `em`: the same tenant, none open, for `run`. */
export async function planRetrieval(
  ctx: ServiceContext,
  tx: EntityManager,
  em: EntityManager,
  endpoint: ReadEndpoint,
  request: { query: string; topK: number; minScore: number | null },
): Promise<RetrievalPlan> {
  const mode = endpoint.retrievalMode as RetrievalMode;
  const groups = usesVectors(mode) ? await servingModelGroups(ctx, tx, endpoint.datasetIds, mode) : [];
  const perDocument = endpoint.passagesPerDocument ?? null;
  const keywordRows = (tx: EntityManager, topK: number, minScore: number | null) =>
    retrieverNamed('full-text').retrieve(tx, { datasetIds: endpoint.datasetIds, query: request.query, topK, minScore, timeoutMs: ctx.deps.searchTimeoutMs });
  // What the semantic ranking embeds, and the exclusions it applies (search syntax is the keyword ranking's).
  const asMeaning = readSemanticQuery(request.query);
  const semanticRows = (tx: EntityManager, questions: EmbeddedQuestion[], limit: number, minScore: number | null) =>
    semanticSearch(tx, { questions, limit, minScore, settings: ctx.deps.vectorSearch, timeoutMs: ctx.deps.searchTimeoutMs, exclusions: asMeaning.exclusions, meter: ctx.deps.meter });
  // With passagesPerDocument, a ranking is read deeper until topK passages remain; its ranks stay its own.
  const keyword = async (tx: EntityManager, topK: number, minScore: number | null) =>
    perDocument === null
      ? ranked(await keywordRows(tx, topK, minScore), 'keyword')
      : readCollapsed(async (limit) => ranked(await keywordRows(tx, limit, minScore), 'keyword'), topK, perDocument);
  const semantic = async (tx: EntityManager, questions: EmbeddedQuestion[], limit: number, minScore: number | null) =>
    perDocument === null
      ? ranked(await semanticRows(tx, questions, limit, minScore), 'semantic')
      : readCollapsed(async (depth) => ranked(await semanticRows(tx, questions, depth, minScore), 'semantic'), limit, perDocument);

  return {
    mode,
    rankNow: mode === 'KEYWORD' ? (open) => keyword(open, request.topK, request.minScore) : undefined,
    async run(signal) {
      const usage: EmbeddingUsage = { promptTokens: 0, costMicros: 0 };
      const vectors = new Map<string, Float32Array>();
      let serving = groups;
      for (let attempt = 1; ; attempt += 1) {
        // A query of exclusions only has no meaning to embed: the semantic ranking places nothing.
        for (const group of asMeaning.text === '' ? [] : serving) {
          if (vectors.has(group.modelId)) continue;
          const embedded = await group.embedder.embed([asMeaning.text], signal).catch((error: unknown) => {
            // Said of the embeddings model, not the endpoint's chat model, which the same words would blame.
            throw error instanceof UpstreamError ? new UpstreamError(`Embedding the question failed: ${error.message}`, error.details) : error;
          });
          usage.promptTokens += embedded.usage.promptTokens;
          usage.costMicros += embedded.usage.costMicros;
          vectors.set(group.modelId, embedded.vectors[0]!);
        }
        const questions: EmbeddedQuestion[] = serving
          .filter((group) => vectors.has(group.modelId))
          .map((group) => ({ modelId: group.modelId, datasetIds: group.datasetIds, vector: vectors.get(group.modelId)! }));
        const outcome = await inQuerySlot(ctx, () =>
          em.transactional(
            async (tx): Promise<{ passages: RankedPassage[] } | { changed: ModelGroup[] }> => {
              const bound = tx as EntityManager;
              if (mode === 'KEYWORD') return { passages: await keyword(bound, request.topK, request.minScore) };
              // A re-embedding may have switched a dataset's serving model while the question was
              // embedded, deleting the vectors it is about to be compared with: checked in the
              // search's own snapshot (REPEATABLE READ), and the question embedded by the new model.
              if (attempt < SERVING_CHECKS) {
                const now = await servingModelGroups(ctx, bound, endpoint.datasetIds, mode);
                if (!sameServing(now, serving)) return { changed: now };
              }
              if (mode === 'SEMANTIC') return { passages: await semantic(bound, questions, request.topK, request.minScore) };
              // Fused from both rankings read to the fusion depth; collapsed within what they fused.
              const depth = fusionDepth(request.topK);
              const byKeyword = await keywordRows(bound, depth, null);
              const bySemantic = await semanticRows(bound, questions, depth, null);
              const fusedPassages = fused(byKeyword, bySemantic, perDocument === null ? request.topK : 2 * depth, request.minScore);
              return { passages: perDocument === null ? fusedPassages : collapsed(fusedPassages, perDocument, request.topK) };
            },
            mode === 'KEYWORD' ? {} : { isolationLevel: IsolationLevel.REPEATABLE_READ },
          ),
        );
        if ('passages' in outcome) return { passages: outcome.passages, usage };
        serving = outcome.changed;
      }
    },
  };
}

/**
 * How often the serving models are checked before a semantic search: a switch between each
 * embedding of the question and its search is rare (one per re-embedding of a dataset); the
 * last attempt searches with what it has.
 */
const SERVING_CHECKS = 3;

/** Whether each dataset is served by the same model in both. */
function sameServing(a: readonly ModelGroup[], b: readonly ModelGroup[]): boolean {
  const pairs = (groups: readonly ModelGroup[]) => groups.flatMap((group) => group.datasetIds.map((id) => `${id}:${group.modelId}`)).sort().join(',');
  return pairs(a) === pairs(b);
}

/** The endpoint's datasets that have a serving embedding model, grouped by that model. */
async function servingModelGroups(ctx: ServiceContext, tx: EntityManager, datasetIds: readonly string[], mode: RetrievalMode): Promise<ModelGroup[]> {
  const datasets = await tx.find(Dataset, { id: { $in: [...datasetIds] }, servingEmbeddingModel: { $ne: null } }, { populate: ['servingEmbeddingModel'], orderBy: { id: 'asc' } });
  const groups = new Map<string, ModelGroup>();
  for (const dataset of datasets) {
    const model = dataset.servingEmbeddingModel!;
    // A model a fresh health check found DOWN (model-health/): SEMANTIC is refused at once
    // (MODEL_UNAVAILABLE); HYBRID ranks these datasets by keyword only, as if not embedded.
    if (mode === 'HYBRID' && isDown(model, ctx.deps.clock.now(), ctx.deps.modelHealth)) continue;
    assertAvailable(model, 'embeddings', ctx.deps.clock.now(), ctx.deps.modelHealth);
    const group = groups.get(model.id) ?? { modelId: model.id, datasetIds: [], embedder: embedderFor(ctx.deps, model) };
    group.datasetIds.push(dataset.id);
    groups.set(model.id, group);
  }
  return [...groups.values()];
}

function ranked(passages: RetrievedPassage[], by: 'keyword' | 'semantic'): RankedPassage[] {
  return passages.map((passage, index) => ({
    ...passage,
    ranks: { keyword: by === 'keyword' ? index + 1 : null, semantic: by === 'semantic' ? index + 1 : null },
  }));
}

/**
 * Reciprocal rank fusion: each passage scores Σ 1 / (RRF_K + rank) over the rankings that
 * placed it, so agreement between them outweighs a high place in one. Its score is the fused
 * score (at most 2/61 ≈ 0.033); `minScore` applies to it. Ties: keyword rank, then chunk id.
 */
export function fused(byKeyword: RetrievedPassage[], bySemantic: RetrievedPassage[], topK: number, minScore: number | null): RankedPassage[] {
  const passages = new Map<string, RankedPassage>();
  const place = (list: RetrievedPassage[], by: 'keyword' | 'semantic') => {
    for (const [index, passage] of list.entries()) {
      // The keyword ranking's copy is kept: its highlight marks the matched words.
      const entry = passages.get(passage.chunkId) ?? { ...passage, score: 0, ranks: { keyword: null, semantic: null } };
      entry.ranks[by] = index + 1;
      entry.score += 1 / (RRF_K + index + 1);
      passages.set(passage.chunkId, entry);
    }
  };
  place(byKeyword, 'keyword');
  place(bySemantic, 'semantic');
  return [...passages.values()]
    .filter((passage) => minScore === null || passage.score >= minScore)
    .sort((a, b) => b.score - a.score || (a.ranks.keyword ?? Infinity) - (b.ranks.keyword ?? Infinity) || a.chunkId.localeCompare(b.chunkId))
    .slice(0, topK);
}
