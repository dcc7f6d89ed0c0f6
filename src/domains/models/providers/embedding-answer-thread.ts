/**
 * What runs in an embeddings-answer thread (embedding-answers.ts starts these with piscina):
 * one large answer's bytes to its vectors, off the event loop that serves requests. The vectors'
 * buffer is moved back to the caller (piscina's transferable protocol), not copied.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { readEmbeddingAnswer, type AnswerShape, type ReadAnswer } from './embedding-answer.js';

export interface AnswerTask {
  bytes: Uint8Array<ArrayBuffer>;
  shape: AnswerShape;
}

export default function readAnswerTask({ bytes, shape }: AnswerTask): ReadAnswer {
  const read = readEmbeddingAnswer(bytes, shape);
  if (!read.ok) return read;
  return move({ [transferableSymbol]: read.vectors.buffer, [valueSymbol]: read } as never) as unknown as ReadAnswer;
}
