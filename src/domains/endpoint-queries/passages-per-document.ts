/**
 * At most N passages of one document per answer (an endpoint's `passagesPerDocument`; field
 * collapsing, as search engines call it): long documents cut into many chunks otherwise fill
 * an answer with near-copies of one source, where a consumer (a model writing an answer, an
 * evaluation counting documents) wants the best passages of several.
 */

/** The most rows a ranking is read to for one answer: enough for topK 50 over documents of 8 passages. */
export const COLLAPSE_MAX_DEPTH = 400;

/** Keeps, in rank order, at most `perDocument` passages of each document, up to `topK`. */
export function collapsed<T extends { documentId: string }>(passages: readonly T[], perDocument: number, topK: number): T[] {
  const kept: T[] = [];
  const seen = new Map<string, number>();
  for (const passage of passages) {
    const count = seen.get(passage.documentId) ?? 0;
    if (count >= perDocument) continue;
    seen.set(passage.documentId, count + 1);
    kept.push(passage);
    if (kept.length === topK) break;
  }
  return kept;
}

/**
 * Reads a ranking deep enough for `topK` passages after collapsing: topK rows first, then
 * twice as many each time, until enough remain, the ranking has no more (fewer rows than
 * asked), or COLLAPSE_MAX_DEPTH. A deeper read of a ranking begins with the shallower one, so
 * the answer is the one a single read to that depth gives; most questions need one read, a
 * question whose best passages crowd in one document a second.
 */
export async function readCollapsed<T extends { documentId: string }>(
  read: (limit: number) => Promise<T[]>,
  topK: number,
  perDocument: number,
): Promise<T[]> {
  let limit = topK;
  for (;;) {
    const rows = await read(limit);
    const kept = collapsed(rows, perDocument, topK);
    if (kept.length === topK || rows.length < limit || limit >= COLLAPSE_MAX_DEPTH) return kept;
    limit = Math.min(limit * 2, COLLAPSE_MAX_DEPTH);
  }
}
