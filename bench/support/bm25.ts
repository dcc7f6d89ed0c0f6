/**
 * The textbook BM25 that bench/relevance.ts measures Sluice against, in the benchmark's own
 * process: lower-cased words (runs of letters and digits), a standard English stop list
 * (the `stopword` package's `eng`), Porter stems (`stemmer`), k1 1.2, b 0.75, and the
 * non-negative idf log(1 + (N − df + 0.5) / (df + 0.5)) that Lucene uses (Robertson's
 * original goes negative for words in more than half the documents). Each distinct query
 * word counts once. Nothing here is tuned to the collection.
 */
import { stemmer } from 'stemmer';
import { eng } from 'stopword';

const STOP = new Set(eng);

export function analyse(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((word) => !STOP.has(word)).map((word) => stemmer(word));
}

export class Bm25Index {
  private readonly postings = new Map<string, Map<string, number>>();
  private readonly lengths = new Map<string, number>();
  private averageLength = 0;

  constructor(
    documents: Iterable<{ id: string; text: string }>,
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {
    for (const { id, text } of documents) {
      const terms = analyse(text);
      this.lengths.set(id, terms.length);
      for (const term of terms) {
        let posting = this.postings.get(term);
        if (!posting) this.postings.set(term, (posting = new Map()));
        posting.set(id, (posting.get(id) ?? 0) + 1);
      }
    }
    let total = 0;
    for (const length of this.lengths.values()) total += length;
    this.averageLength = this.lengths.size === 0 ? 0 : total / this.lengths.size;
  }

  /** The ids of the `limit` best-scoring documents, best first (ties by id, for a stable order). */
  search(query: string, limit: number): string[] {
    const count = this.lengths.size;
    const scores = new Map<string, number>();
    for (const term of new Set(analyse(query))) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const idf = Math.log(1 + (count - posting.size + 0.5) / (posting.size + 0.5));
      for (const [id, frequency] of posting) {
        const norm = this.k1 * (1 - this.b + (this.b * this.lengths.get(id)!) / this.averageLength);
        scores.set(id, (scores.get(id) ?? 0) + (idf * frequency * (this.k1 + 1)) / (frequency + norm));
      }
    }
    return [...scores]
      .sort(([idA, a], [idB, b]) => b - a || (idA < idB ? -1 : idA > idB ? 1 : 0))
      .slice(0, limit)
      .map(([id]) => id);
  }
}
