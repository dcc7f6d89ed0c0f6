/**
 * A retrieved passage as the consumer routes show it: exactly the fields of GraphQL's
 * `Passage` (nothing internal, such as its dataset), so REST and the OpenAI extra field
 * carry the same object.
 */
import type { RankedPassage } from '../domains/endpoint-queries/retrieval-modes.js';

export interface ShownPassage {
  rank: number;
  chunkId: string;
  documentId: string;
  documentTitle: string;
  text: string;
  score: number;
  highlight: string;
  metadata: Record<string, unknown>;
  ranks: RankedPassage['ranks'];
}

export function shownPassage(rank: number, passage: RankedPassage): ShownPassage {
  const { chunkId, documentId, documentTitle, text, score, highlight, metadata, ranks } = passage;
  return { rank, chunkId, documentId, documentTitle, text, score, highlight, metadata, ranks };
}
