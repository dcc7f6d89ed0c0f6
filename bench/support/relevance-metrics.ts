/**
 * Ranking-quality metrics for bench/relevance.ts, as the IR literature defines them (and as
 * trec_eval computes them), so a number here reads like one in a paper:
 *
 * - nDCG@k with exponential gain: DCG = Σ (2^gain − 1) / log2(rank + 1) over the first k
 *   results, divided by the DCG of the ideal ordering of every judged document of the question.
 * - recall@k: judged-relevant documents in the first k, over all judged-relevant documents.
 * - MRR@k: 1 / rank of the first judged-relevant document within the first k, else 0.
 *
 * `judgements` maps a document id to its gain (> 0); a document not in it is not relevant.
 * `ranking` is the document ids in ranked order, each once.
 */
export type Judgements = ReadonlyMap<string, number>;

export function dcg(gains: readonly number[]): number {
  return gains.reduce((sum, gain, index) => sum + (2 ** gain - 1) / Math.log2(index + 2), 0);
}

export function ndcgAt(k: number, ranking: readonly string[], judgements: Judgements): number {
  const ideal = dcg([...judgements.values()].sort((a, b) => b - a).slice(0, k));
  if (ideal === 0) return 0;
  return dcg(ranking.slice(0, k).map((id) => judgements.get(id) ?? 0)) / ideal;
}

export function recallAt(k: number, ranking: readonly string[], judgements: Judgements): number {
  if (judgements.size === 0) return 0;
  return ranking.slice(0, k).filter((id) => (judgements.get(id) ?? 0) > 0).length / judgements.size;
}

export function reciprocalRankAt(k: number, ranking: readonly string[], judgements: Judgements): number {
  const index = ranking.slice(0, k).findIndex((id) => (judgements.get(id) ?? 0) > 0);
  return index === -1 ? 0 : 1 / (index + 1);
}

/** Document ids in the order of their first appearance (a document's best passage ranks it). */
export function firstOccurrences(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

export interface QualityScores {
  ndcg10: number;
  recall50: number;
  mrr10: number;
}

/** The three metrics for one question. */
export function scoreRanking(ranking: readonly string[], judgements: Judgements): QualityScores {
  return { ndcg10: ndcgAt(10, ranking, judgements), recall50: recallAt(50, ranking, judgements), mrr10: reciprocalRankAt(10, ranking, judgements) };
}

/** The mean of each metric over questions (0 for none). */
export function meanScores(scores: readonly QualityScores[]): QualityScores {
  const mean = (pick: (score: QualityScores) => number) => (scores.length === 0 ? 0 : scores.reduce((sum, score) => sum + pick(score), 0) / scores.length);
  return { ndcg10: mean((s) => s.ndcg10), recall50: mean((s) => s.recall50), mrr10: mean((s) => s.mrr10) };
}
