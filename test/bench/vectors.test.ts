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
  clusterCentroids,
  noiseAmplitudes,
  separation,
  similarityShortfall,
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
    const amplitudes = noiseAmplitudes(dimensions, 0.8);
    const cosines = Array.from({ length: 200 }, () => dot(centroid, clusterMember(random, centroid, amplitudes)));
    const mean = cosines.reduce((sum, x) => sum + x, 0) / cosines.length;
    expect(mean).toBeCloseTo(1 / Math.sqrt(1 + 0.64), 2);
    // Two random directions in 384 dimensions are nearly orthogonal: clusters are apart.
    expect(Math.abs(dot(centroid, randomUnitVector(random, dimensions)))).toBeLessThan(0.25);
  });

  it('a decaying noise spectrum keeps the noise length and puts its variance in the first coordinates, rotated per cluster', () => {
    const dimensions = 384;
    const flat = noiseAmplitudes(dimensions, 0.8);
    const decaying = noiseAmplitudes(dimensions, 0.8, 1);
    // Expected squared length: the sum of a² / 3, the noise ratio squared either way.
    const squaredLength = (amplitudes: number[]) => amplitudes.reduce((sum, a) => sum + (a * a) / 3, 0);
    expect(squaredLength(flat)).toBeCloseTo(0.64, 10);
    expect(squaredLength(decaying)).toBeCloseTo(0.64, 10);
    expect(flat[0]).toBeCloseTo(flat[383]!, 12);
    // Variance ∝ 1 / i: coordinate 1 has 4 times coordinate 4's, so twice its amplitude.
    expect(decaying[0]! / decaying[3]!).toBeCloseTo(2, 10);
    // Cluster 5's member varies most along coordinate 384 - 5 + 1 (amplitude index 0).
    const random = seededRandom(3);
    const zero = new Array(dimensions).fill(0);
    zero[0] = 1;
    const spikes = Array.from({ length: 400 }, () => clusterMember(random, zero, decaying, 5));
    const spread = (i: number) => spikes.reduce((sum, v) => sum + v[i]! * v[i]!, 0);
    expect(spread(dimensions - 5)).toBeGreaterThan(20 * spread(100));
    expect(() => clusterMember(random, [1, 0], decaying)).toThrow('384 amplitudes for 2 dimensions');
  });

  it('centroids in topics are nearer within a topic than across, independent ones are all nearly orthogonal', () => {
    const random = seededRandom(11);
    const independent = clusterCentroids(random, 384, 4);
    expect(Math.abs(dot(independent[0]!, independent[1]!))).toBeLessThan(0.25);
    // Topic + offset of length 0.8, both unit and nearly orthogonal: siblings at 1 / 1.64 ≈ 0.61.
    const topical = clusterCentroids(random, 384, 40, 2, 0.8);
    expect(dot(topical[0]!, topical[0]!)).toBeCloseTo(1, 10);
    expect(dot(topical[0]!, topical[2]!)).toBeGreaterThan(0.45);
    expect(Math.abs(dot(topical[0]!, topical[1]!))).toBeLessThan(0.25);
  });

  it('measures the separation of exact neighbours and the similarity an approximate answer gives up', () => {
    const profile = Array.from({ length: 100 }, (_, i) => 1 - i / 100);
    expect(separation([profile, profile.map((x) => x - 0.1)])).toEqual({ at1: 0.95, at10: expect.closeTo(0.86, 10), at11: expect.closeTo(0.85, 10), at100: expect.closeTo(-0.04, 10), gap10to11: expect.closeTo(0.01, 10) });
    expect(() => separation([[1, 0.9]])).toThrow('no question has 100 exact neighbours');
    // One question answered exactly, one 0.2 short on average, one with nothing (counts as 0 similarity).
    const exact = [[0.9, 0.8], [0.9, 0.8], [0.5, 0.5]];
    expect(similarityShortfall(2, exact, [[0.9, 0.8], [0.7, 0.6], []])).toBeCloseTo((0 + 0.2 + 0.5) / 3, 10);
    expect(() => similarityShortfall(2, exact, [])).toThrow('3 exact answers but 0 to compare');
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
