/**
 * Pure helpers of the vector benchmarks (bench/vector-search.ts): seeded random numbers,
 * clustered unit vectors, the pgvector text form, recall against an exact answer, the ladder
 * of dataset sizes. No I/O, so test/bench/vectors.test.ts checks them directly.
 */

/** mulberry32: a small seeded generator, so every run asks the same questions of the same centroids. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scales `vector` to unit length in place (cosine similarity then is a dot product); returns it. */
export function normalise(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  if (norm === 0) throw new Error('cannot normalise the zero vector');
  for (let i = 0; i < vector.length; i += 1) vector[i] = vector[i]! / norm;
  return vector;
}

export function dot(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`dimensions differ: ${a.length} and ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i]! * b[i]!;
  return sum;
}

/** A random direction: Gaussian coordinates (Box–Muller), normalised. */
export function randomUnitVector(random: () => number, dimensions: number): number[] {
  return normalise(Array.from({ length: dimensions }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
}

/**
 * Half-widths of the uniform noise added to each coordinate of a unit centroid so that the
 * noise vector's expected length is `noiseRatio` (a uniform on [−a, a] has variance a² / 3).
 * `spectrum` shapes it: coordinate i (from 1) gets a variance ∝ i^−spectrum. 0 is isotropic
 * noise (every coordinate alike: within a cluster every direction of 384 varies as much, so a
 * question is nearly equidistant from all members); 1 is a decaying spectrum like real text
 * embeddings', whose variance sits in a few tens of directions. The SQL generator uses the
 * same figures, so vectors written by PostgreSQL and by the benchmark share one distribution.
 */
export function noiseAmplitudes(dimensions: number, noiseRatio: number, spectrum = 0): number[] {
  const weights = Array.from({ length: dimensions }, (_, i) => (i + 1) ** -spectrum);
  const total = weights.reduce((sum, w) => sum + w, 0);
  return weights.map((w) => Math.sqrt(3) * noiseRatio * Math.sqrt(w / total));
}

/**
 * One member of cluster `cluster`: the centroid plus uniform noise, normalised. The noise
 * spectrum is rotated by the cluster's index (coordinate i takes amplitude i + cluster, mod D),
 * so clusters do not all vary along the same few axes.
 */
export function clusterMember(random: () => number, centroid: readonly number[], amplitudes: readonly number[], cluster = 0): number[] {
  if (amplitudes.length !== centroid.length) throw new Error(`${amplitudes.length} amplitudes for ${centroid.length} dimensions`);
  const dimensions = centroid.length;
  return normalise(centroid.map((x, i) => x + amplitudes[(i + cluster) % dimensions]! * (2 * random() - 1)));
}

/**
 * The clusters' centres. With `topics` 0, independent random directions: in 384 dimensions
 * they are all nearly orthogonal, every cluster equally far from every other (no path leads a
 * graph search from one to the right one). With topics, each centre is a topic's direction
 * plus a random direction of length `spread`, so clusters of one topic are near each other
 * and similarity varies by degrees, as it does between real documents.
 */
export function clusterCentroids(random: () => number, dimensions: number, clusters: number, topics = 0, spread = 0.8): number[][] {
  if (topics === 0) return Array.from({ length: clusters }, () => randomUnitVector(random, dimensions));
  const topicDirections = Array.from({ length: topics }, () => randomUnitVector(random, dimensions));
  return Array.from({ length: clusters }, (_, k) => {
    const offset = randomUnitVector(random, dimensions);
    return normalise(topicDirections[k % topics]!.map((x, i) => x + spread * offset[i]!));
  });
}

/** pgvector's text form, `[x,y,…]`. */
export const vectorLiteral = (vector: readonly number[]) => `[${vector.join(',')}]`;

/**
 * recall@k of one answer: the share of the exact top k (`exact`, best first, at least k ids
 * unless the dataset holds fewer) that `found` returned among its first k, in any order.
 */
export function recallAt(k: number, exact: readonly string[], found: readonly string[]): number {
  const truth = new Set(exact.slice(0, k));
  if (truth.size === 0) return 1;
  const hits = new Set(found.slice(0, k).filter((id) => truth.has(id)));
  return hits.size / truth.size;
}

/** The mean recall@k over questions answered both ways (`found[i]` answers the same question as `exact[i]`). */
export function meanRecallAt(k: number, exact: readonly (readonly string[])[], found: readonly (readonly string[])[]): number {
  if (exact.length !== found.length) throw new Error(`${exact.length} exact answers but ${found.length} to compare`);
  if (exact.length === 0) return Number.NaN;
  return exact.reduce((sum, truth, index) => sum + recallAt(k, truth, found[index]!), 0) / exact.length;
}

/** The sizes to measure on the way to `total`: those of `ladder` below it, then `total` itself. */
export function sizeSteps(total: number, ladder: readonly number[]): number[] {
  if (!Number.isInteger(total) || total < 1) throw new Error(`the chunk count must be a positive integer, not ${total}`);
  return [...new Set([...ladder.filter((size) => size > 0 && size < total), total])].sort((a, b) => a - b);
}

/** The largest size whose figure stays within `limit`, scanning in order and stopping at the first that does not; null if the first fails. */
export function largestWithin(rows: readonly { size: number; value: number }[], limit: number): number | null {
  let largest: number | null = null;
  for (const row of [...rows].sort((a, b) => a.size - b.size)) {
    if (row.value > limit) break;
    largest = row.size;
  }
  return largest;
}

/**
 * How separated the exact neighbours are, from each question's exact top 100 similarities
 * (best first): the mean similarity at ranks 1, 10, 11 and 100, and the mean gap between the
 * 10th and the 11th. A gap near 0 means the top 10 is barely distinct from what follows: any
 * approximate search then swaps members of it for near-equals.
 */
export function separation(profiles: readonly (readonly number[])[]): { at1: number; at10: number; at11: number; at100: number; gap10to11: number } {
  const usable = profiles.filter((scores) => scores.length >= 100);
  if (usable.length === 0) throw new Error('no question has 100 exact neighbours');
  const mean = (pick: (scores: readonly number[]) => number) => usable.reduce((sum, scores) => sum + pick(scores), 0) / usable.length;
  return { at1: mean((s) => s[0]!), at10: mean((s) => s[9]!), at11: mean((s) => s[10]!), at100: mean((s) => s[99]!), gap10to11: mean((s) => s[9]! - s[10]!) };
}

/**
 * What an approximate answer gives up in similarity: per question, the exact top k's mean
 * similarity minus that of the k returned (0 when the misses are near-equals swapped in;
 * large when the search ended in the wrong region), averaged over questions.
 */
export function similarityShortfall(k: number, exact: readonly (readonly number[])[], found: readonly (readonly number[])[]): number {
  if (exact.length !== found.length) throw new Error(`${exact.length} exact answers but ${found.length} to compare`);
  const mean = (scores: readonly number[]) => scores.slice(0, k).reduce((sum, x) => sum + x, 0) / Math.min(k, scores.length);
  return exact.reduce((sum, truth, index) => sum + (found[index]!.length === 0 ? mean(truth) : mean(truth) - mean(found[index]!)), 0) / exact.length;
}
