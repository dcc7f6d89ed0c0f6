/**
 * The pure helpers of bench/vector-search.ts against values worked out by hand: a wrong
 * recall (counting duplicates, looking past k) or noise of the wrong size would reach
 * docs/benchmarks.md as a plausible number.
 */
import { describe, expect, it } from 'vitest';
import {
  clusterMember,
  dot,
  largestWithin,
  meanRecallAt,
  noiseAmplitude,
  normalise,
  randomUnitVector,
  recallAt,
  seededRandom,
  sizeSteps,
  vectorLiteral,
} from '../../bench/support/vectors.js';

describe('vector benchmark helpers', () => {
  it('recall@k counts the exact top k found among the first k answers, each once, in any order', () => {
    const exact = ['a', 'b', 'c', 'd', 'e'];
    expect(recallAt(3, exact, ['c', 'a', 'x'])).toBeCloseTo(2 / 3);
    // 'd' is in the exact top 5 but not the top 3; 'b' comes after the first 3 answers.
    expect(recallAt(3, exact, ['d', 'x', 'y', 'b'])).toBe(0);
    expect(recallAt(3, exact, ['a', 'a', 'a'])).toBeCloseTo(1 / 3);
    expect(recallAt(5, exact, ['e', 'd', 'c', 'b', 'a'])).toBe(1);
    // A dataset smaller than k: the truth is what exists.
    expect(recallAt(10, ['a', 'b'], ['b', 'a', 'z'])).toBe(1);
    expect(recallAt(10, [], [])).toBe(1);
  });

  it('mean recall averages over questions and refuses answers that do not pair up', () => {
    expect(meanRecallAt(2, [['a', 'b'], ['c', 'd']], [['a', 'b'], ['c', 'x']])).toBeCloseTo(0.75);
    expect(() => meanRecallAt(2, [['a']], [])).toThrow('1 exact answers but 0 to compare');
    expect(meanRecallAt(2, [], [])).toBeNaN();
  });

  it('the seeded generator repeats itself and stays in [0, 1)', () => {
    const first = seededRandom(42);
    const second = seededRandom(42);
    const values = Array.from({ length: 1000 }, () => first());
    expect(values).toEqual(Array.from({ length: 1000 }, () => second()));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(seededRandom(43)()).not.toBe(seededRandom(42)());
  });

  it('normalises to unit length, and refuses the zero vector', () => {
    expect(normalise([3, 4])).toEqual([0.6, 0.8]);
    expect(dot([0.6, 0.8], [0.6, 0.8])).toBeCloseTo(1);
    expect(() => normalise([0, 0])).toThrow('zero vector');
    expect(() => dot([1], [1, 2])).toThrow('dimensions differ');
  });

  it('cluster members sit at the cosine the noise ratio sets from their centroid', () => {
    const random = seededRandom(7);
    const dimensions = 384;
    const centroid = randomUnitVector(random, dimensions);
    expect(dot(centroid, centroid)).toBeCloseTo(1, 10);
    // Noise of length r around a unit centroid: cosine 1 / √(1 + r²); 0.8 gives 0.781.
    const amplitude = noiseAmplitude(dimensions, 0.8);
    const cosines = Array.from({ length: 200 }, () => dot(centroid, clusterMember(random, centroid, amplitude)));
    const mean = cosines.reduce((sum, x) => sum + x, 0) / cosines.length;
    expect(mean).toBeCloseTo(1 / Math.sqrt(1 + 0.64), 2);
    // Two random directions in 384 dimensions are nearly orthogonal: clusters are apart.
    expect(Math.abs(dot(centroid, randomUnitVector(random, dimensions)))).toBeLessThan(0.25);
  });

  it('writes pgvector text and lists the sizes on the way to the total', () => {
    expect(vectorLiteral([0.5, -0.25, 1])).toBe('[0.5,-0.25,1]');
    expect(sizeSteps(20_000, [1_000, 5_000, 20_000, 50_000])).toEqual([1_000, 5_000, 20_000]);
    expect(sizeSteps(3_000, [5_000, 1_000])).toEqual([1_000, 3_000]);
    expect(() => sizeSteps(0, [])).toThrow('positive integer');
  });

  it('finds the largest size within a limit, stopping at the first size over it', () => {
    const rows = [
      { size: 10_000, value: 60 },
      { size: 1_000, value: 20 },
      { size: 5_000, value: 45 },
      { size: 20_000, value: 40 },
    ];
    expect(largestWithin(rows, 50)).toBe(5_000);
    expect(largestWithin(rows, 10)).toBeNull();
    expect(largestWithin([], 50)).toBeNull();
  });
});
