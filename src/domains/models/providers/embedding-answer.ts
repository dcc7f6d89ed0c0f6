/**
 * Reading one `/v1/embeddings` answer into vectors, checked against what was asked: one vector
 * per text (by `index`, or in order), all of one dimension, with a direction a unit float4 vector
 * can hold (unit-vector.ts: finite, not all zeros, within float4's range). Pure, so it
 * runs on the event loop for a small answer and in a thread for a large one
 * (embedding-answers.ts). The vectors come back in one Float32Array (`count` × `dimension`, in
 * input order): what is stored is `real[]` anyway, and one buffer crosses threads without a copy.
 */
import { z } from 'zod';
import { vectorProblem } from '../unit-vector.js';

/** What a server must say, counted per text and per number (see `answerBytes`). */
export interface AnswerShape {
  /** Texts asked for: the answer must have exactly this many vectors. */
  count: number;
  /** The dimension every vector must have; undefined: the first vector's, at most `maxDimension`. */
  dimension: number | undefined;
  maxDimension: number;
}

export type ReadAnswer =
  | { ok: true; vectors: Float32Array; dimension: number; usage: Usage }
  | { ok: false; message: string };

const usageSchema = z.object({ prompt_tokens: z.number().optional(), total_tokens: z.number().optional() }).nullish();
export type Usage = z.infer<typeof usageSchema>;

const NOT_EMBEDDINGS = 'The model server sent something that is not an embeddings answer';

/**
 * Separators (`,`) an answer of `shape` can need: one between numbers, a handful per vector for
 * its other fields (`object`, `index`), a few hundred for the rest (`model`, `usage`, whatever a
 * server adds). More means more numbers than were asked for: `{"embedding":[1,0,0,…]}` is 2 bytes
 * a number, and parsed it costs 16 (the 250 MB answer that took the process to 4.5 GB).
 */
export function maxSeparators(shape: AnswerShape): number {
  return shape.count * ((shape.dimension ?? shape.maxDimension) + 16) + 512;
}

/** The answer's bytes, read: the vectors, or why they are not what was asked. */
export function readEmbeddingAnswer(bytes: Uint8Array, shape: AnswerShape): ReadAnswer {
  // Checked before parsing, which would build every number as a JS value first.
  if (countSeparators(bytes) > maxSeparators(shape)) return { ok: false, message: tooManyNumbers(shape) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { ok: false, message: NOT_EMBEDDINGS };
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(data)) return { ok: false, message: NOT_EMBEDDINGS };
  const { count } = shape;
  if (data.length !== count) return { ok: false, message: `The model server sent ${data.length} vectors for ${count} texts` };
  const byIndex = new Array<number[] | undefined>(count);
  for (let position = 0; position < data.length; position++) {
    const item = data[position] as { index?: unknown; embedding?: unknown } | null;
    if (typeof item !== 'object' || item === null || !Array.isArray(item.embedding)) return { ok: false, message: NOT_EMBEDDINGS };
    if (item.index !== undefined && !(Number.isSafeInteger(item.index) && (item.index as number) >= 0)) return { ok: false, message: NOT_EMBEDDINGS };
    // Servers give each vector its input's index; those that omit it answer in order.
    const index = (item.index as number | undefined) ?? position;
    if (index >= count || byIndex[index]) return { ok: false, message: 'The model server sent vectors with missing or repeated indexes' };
    byIndex[index] = item.embedding as number[];
  }
  const dimension = shape.dimension ?? byIndex[0]!.length;
  if (dimension > shape.maxDimension) return { ok: false, message: `The model server sent vectors of dimension ${dimension}, more than ${shape.maxDimension}` };
  const vectors = new Float32Array(count * dimension);
  for (let index = 0; index < count; index++) {
    const vector = byIndex[index]!;
    if (vector.length === 0 || vector.length !== dimension) {
      return { ok: false, message: `The model server sent a vector of dimension ${vector.length} where ${dimension} was expected` };
    }
    const offset = index * dimension;
    for (let at = 0; at < dimension; at++) {
      const value = vector[at];
      if (typeof value !== 'number') return { ok: false, message: NOT_EMBEDDINGS };
      vectors[offset + at] = value;
    }
    // As held (float32, as stored: a number it cannot hold is not finite either), and as it will be scaled to unit length.
    const problem = vectorProblem(vectors.subarray(offset, offset + dimension));
    if (problem !== null) return { ok: false, message: problem };
  }
  const usage = usageSchema.safeParse((parsed as { usage?: unknown }).usage);
  if (!usage.success) return { ok: false, message: NOT_EMBEDDINGS };
  return { ok: true, vectors, dimension, usage: usage.data };
}

/** The refusal of an answer with more numbers than `shape` can hold. */
export function tooManyNumbers(shape: AnswerShape): string {
  const dimension = shape.dimension === undefined ? `at most ${shape.maxDimension}` : String(shape.dimension);
  return `The model server sent more numbers than ${shape.count} vectors of dimension ${dimension} hold`;
}

/** Commas in `bytes` (commas inside strings too: they only make the count safer). */
export function countSeparators(bytes: Uint8Array): number {
  let separators = 0;
  for (let at = 0; at < bytes.length; at++) if (bytes[at] === 0x2c) separators++;
  return separators;
}
