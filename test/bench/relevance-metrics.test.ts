/**
 * The metrics of bench/relevance.ts against values worked out by hand, so a wrong formula
 * (linear gain, an off-by-one discount, a missing cutoff) fails here before it reaches
 * docs/benchmarks.md.
 */
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../../bench/support/bm25.js';
import { firstOccurrences, meanScores, ndcgAt, recallAt, reciprocalRankAt } from '../../bench/support/relevance-metrics.js';

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
