/**
 * Embedding vectors at unit length: the one form both sides of a cosine take, chunk vectors as
 * stored (ingestion's EMBEDDING stage) and the question's as searched (endpoints' semantic
 * retriever), so `score` is a cosine (−1 to 1) whatever length the server's vectors have (it
 * need not normalise them: llama.cpp's server can be started not to, and the protocol does not
 * promise it).
 *
 * Scaled in doubles, as PostgreSQL rounds them to `real` (float4) once, when it reads them. A
 * vector is refused (`vectorProblem`, the embeddings answer's BAD_RESPONSE) where float4 cannot
 * give it a direction: a number that is not finite, all zeros, a number below float4's normal
 * range as sent (a vector ×1e-44 is left with a few steps of 1.4e-45: its direction is gone, and
 * its products underflowed PostgreSQL's float4 multiply), or one that scaling takes below it (a
 * vector spanning more than float4's range: PostgreSQL refuses such a number as out of range).
 */

/** float4's smallest normal magnitude (FLT_MIN, 2^-126): below it a number keeps fewer than 24 bits, or none. */
const FLOAT4_MIN_NORMAL = 2 ** -126;

/** Why `vector` has no direction a unit float4 vector can hold (the message of a BAD_RESPONSE), or null. */
export function vectorProblem(vector: ArrayLike<number>): string | null {
  let smallest = Infinity;
  for (let at = 0; at < vector.length; at++) {
    const value = Math.abs(vector[at]!);
    if (!Number.isFinite(value)) return 'The model server sent a vector with numbers that are not finite';
    if (value === 0) continue;
    if (value < FLOAT4_MIN_NORMAL) return 'The model server sent a vector with numbers too small for float4 (below 1.2e-38): it has no direction that can be stored';
    if (value < smallest) smallest = value;
  }
  // No direction: stored, it would be similar to nothing; as a question, to everything alike.
  if (smallest === Infinity) return 'The model server sent a vector of zeros';
  if (smallest / norm(vector) < FLOAT4_MIN_NORMAL) return 'The model server sent a vector whose numbers span more than float4 holds at unit length';
  return null;
}

/** `vector` scaled to length 1, in doubles. Only for a vector without a `vectorProblem` (every embeddings answer is checked for one). */
export function unitVector(vector: ArrayLike<number>): number[] {
  const problem = vectorProblem(vector);
  if (problem !== null) throw new RangeError(problem);
  const scale = 1 / norm(vector);
  return Array.from(vector, (value) => value * scale);
}

/** `unitVector` as a PostgreSQL array literal (`{…}`, for `real[]`). */
export function unitVectorLiteral(vector: ArrayLike<number>): string {
  return `{${unitVector(vector).join(',')}}`;
}

/** The Euclidean length, its squares summed relative to the largest number (no double overflows or underflows, whatever was sent). */
function norm(vector: ArrayLike<number>): number {
  let largest = 0;
  for (let at = 0; at < vector.length; at++) largest = Math.max(largest, Math.abs(vector[at]!));
  if (largest === 0) return 0;
  let squares = 0;
  for (let at = 0; at < vector.length; at++) squares += (vector[at]! / largest) ** 2;
  return largest * Math.sqrt(squares);
}
