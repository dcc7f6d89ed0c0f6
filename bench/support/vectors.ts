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
 * Half-width of the uniform noise added to each coordinate of a unit centroid so that the
 * noise vector's expected length is `noiseRatio` (its standard deviation per coordinate is
 * noiseRatio / √D; a uniform on [−a, a] has deviation a / √3). The SQL generator uses the
 * same figure, so vectors written by PostgreSQL and by the benchmark share one distribution.
 */
export function noiseAmplitude(dimensions: number, noiseRatio: number): number {
  return (noiseRatio / Math.sqrt(dimensions)) * Math.sqrt(3);
}

/** One member of a cluster: the centroid plus uniform noise, normalised. */
export function clusterMember(random: () => number, centroid: readonly number[], amplitude: number): number[] {
  return normalise(centroid.map((x) => x + amplitude * (2 * random() - 1)));
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
