/**
 * The metrics of bench/relevance.ts against values worked out by hand, so a wrong formula
 * (linear gain, an off-by-one discount, a missing cutoff) fails here before it reaches
 * docs/benchmarks.md.
 */
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../../bench/support/bm25.js';
import { firstOccurrences, meanScores, ndcgAt, recallAt, reciprocalRankAt } from '../../bench/support/relevance-metrics.js';
import { pairedRandomizationTest } from '../../bench/support/significance.js';

// Gains 3, 2, 1 for a, b, c; x and y are unjudged.
const judgements = new Map([
  ['a', 3],
  ['b', 2],
  ['c', 1],
]);
const ranking = ['x', 'b', 'a', 'y'];

describe('relevance metrics', () => {
  it('nDCG uses gain 2^g - 1 and discount log2(rank + 1), over the ideal order of every judged document', () => {
    // DCG = 0/1 + 3/log2(3) + 7/log2(4) = 5.392789…; ideal = 7/1 + 3/log2(3) + 1/log2(4) = 9.392789…
    expect(ndcgAt(10, ranking, judgements)).toBeCloseTo(0.5741414090136012, 10);
    // Linear gain would give 0.579996…: the formula is told apart.
    expect(ndcgAt(10, ranking, judgements)).not.toBeCloseTo(0.5799960084920718, 4);
  });

  it('nDCG stops at its cutoff, in the ranking and in the ideal', () => {
    // DCG@2 = 3/log2(3) = 1.892789…; ideal@2 = 7 + 3/log2(3) = 8.892789…
    expect(ndcgAt(2, ranking, judgements)).toBeCloseTo(0.2128453970090281, 10);
    expect(ndcgAt(10, ['a', 'b', 'c'], judgements)).toBeCloseTo(1, 12);
    expect(ndcgAt(10, ranking, new Map())).toBe(0);
  });

  it('recall counts judged documents in the first k over all judged documents', () => {
    expect(recallAt(2, ranking, judgements)).toBeCloseTo(1 / 3, 12);
    expect(recallAt(50, ranking, judgements)).toBeCloseTo(2 / 3, 12);
  });

  it('MRR is 1 / rank of the first judged document within the cutoff', () => {
    expect(reciprocalRankAt(10, ranking, judgements)).toBe(0.5);
    expect(reciprocalRankAt(1, ranking, judgements)).toBe(0);
    expect(reciprocalRankAt(10, ['c', 'a'], judgements)).toBe(1);
  });

  it('a document ranks where its first passage does; means are per metric', () => {
    expect(firstOccurrences(['b', 'x', 'b', 'a', 'x'])).toEqual(['b', 'x', 'a']);
    expect(meanScores([{ ndcg10: 1, recall50: 0.5, mrr10: 1 }, { ndcg10: 0, recall50: 0, mrr10: 0.5 }])).toEqual({ ndcg10: 0.5, recall50: 0.25, mrr10: 0.75 });
  });
});

describe('BM25 reference', () => {
  it('ranks by term rarity and length, with stems and stop words applied', () => {
    const index = new Bm25Index([
      { id: '1', text: 'the wing of the aircraft' },
      { id: '2', text: 'supersonic wings and supersonic flow' },
      { id: '3', text: 'flow over a flat plate in a long channel of flowing fluid' },
    ]);
    // "wings" stems to "wing" (documents 1 and 2); "supersonic" (rare, twice) puts 2 first.
    expect(index.search('supersonic wing', 10)).toEqual(['2', '1']);
    // Stop words alone match nothing.
    expect(index.search('the of and', 10)).toEqual([]);
  });
});

describe('paired randomization test', () => {
  it('gives the share of sign assignments at least as far from 0 as the observed differences', () => {
    // Differences 1, 2, 3: of the 8 sign assignments only +++ and −−− reach |6|, so p = 2/8.
    const { meanDifference, p } = pairedRandomizationTest([1, 2, 3], [0, 0, 0]);
    expect(meanDifference).toBe(2);
    expect(p).toBeGreaterThan(0.24);
    expect(p).toBeLessThan(0.26);
    // Differences 0.3 and 0.1: sums ±0.4 and ±0.2, so half of the assignments reach |0.4|.
    expect(pairedRandomizationTest([0.5, 0.25], [0.2, 0.15], { trials: 40_000 }).p).toBeCloseTo(0.5, 1);
  });

  it('finds no difference where there is none, and a clear one where every question differs the same way', () => {
    expect(pairedRandomizationTest([0.3, 0.7, 1], [0.3, 0.7, 1]).p).toBe(1);
    // One question 0.2 better, another 0.2 worse: the mean difference is 0, so every assignment reaches it.
    expect(pairedRandomizationTest([0.5, 0.1], [0.3, 0.3]).p).toBe(1);
    // Twenty questions each 0.1 better: 2 of 2^20 assignments reach it (p ≈ 2e-6); 100 000 trials say < 1e-4.
    const better = pairedRandomizationTest(Array(20).fill(0.6), Array(20).fill(0.5));
    expect(better.meanDifference).toBeCloseTo(0.1, 12);
    expect(better.p).toBeLessThan(1e-4);
  });

  it('gives the same p for the same inputs (seeded), and refuses scores that are not paired', () => {
    const a = [0.1, 0.4, 0.35, 0.8, 0.2, 0.55];
    const b = [0.2, 0.3, 0.3, 0.6, 0.25, 0.5];
    expect(pairedRandomizationTest(a, b).p).toBe(pairedRandomizationTest(a, b).p);
    expect(() => pairedRandomizationTest([1, 2], [1])).toThrow(/differ in length/);
  });
});
