/**
 * Where keyword ranking departs from the textbook, one part at a time, on the Cranfield
 * collection (bench/relevance.ts measures the endpoint itself). Each row re-ranks offline, in
 * this process, with the formula of `sluice_bm25_search` (k1 1.2, b 0.75, Lucene's idf over
 * documents, a chunk's length as its distinct lexemes, passages with all the question's words first) over
 * lexemes PostgreSQL makes (`to_tsvector('english', …)`, `plain_question_text`) from the
 * passages Sluice's own chunker cuts, changing one thing against the first row. Every question
 * is taken as plain words (the endpoint reads 125's "-dash" as plain words minus "dash"; here
 * "dash" is one of its words).
 *
 * Settings: BENCH_RELEVANCE_DIR as for `relevance`; BENCH_DATABASE_URL as for every benchmark.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { withClient } from '../src/db/bootstrap.js';
import { runMigrations } from '../src/db/migrate.js';
import { DEFAULT_VECTOR_INDEX_DIMENSIONS } from '../src/db/vector-index.js';
import { entities } from '../src/domains/entities.js';
import { chunkText } from '../src/domains/ingestion/chunker.js';
import { DEFAULT_INGESTION_OPTIONS } from '../src/domains/ingestion/options.js';
import { createLogger } from '../src/platform/logging/logger.js';
import { loadCollection, type Collection } from './relevance.js';
import { analyse, Bm25Index } from './support/bm25.js';
import { firstOccurrences, meanScores, scoreRanking, type QualityScores } from './support/relevance-metrics.js';
import { appendReport, fixed, table } from './support/report.js';
import { openBenchDatabase } from './support/sluice.js';

const TOP_K = 50;
const K1 = 1.2;
const B = 0.75;

/** A ranked unit: a chunk (or a whole document) as term frequencies. */
interface Passage {
  documentId: string;
  frequencies: Map<string, number>;
}

interface Ranking {
  passages: Passage[];
  /** question id → its terms, each once */
  questions: Map<string, string[]>;
  allWordsFirst?: boolean;
  length?: 'distinct' | 'tokens';
  /** What a word's rarity counts: the documents holding it (as built) or the passages. */
  idf?: 'documents' | 'passages';
}

/** Mean quality over all judged questions, and nDCG@10 over each half of them. */
interface Quality extends QualityScores {
  /** nDCG@10 over the questions numbered 1, 5, 9, … and over 3, 7, 11, …: a change should help both, not one. */
  halves: [number, number];
}

/** The means over all questions, and nDCG@10 over each half (question number mod 4). */
function withHalves(scored: { id: string; scores: QualityScores }[]): Quality {
  const half = (remainder: number) => meanScores(scored.filter(({ id }) => Number(id) % 4 === remainder).map(({ scores }) => scores)).ndcg10;
  return { ...meanScores(scored.map(({ scores }) => scores)), halves: [half(1), half(3)] };
}

/** Mean quality of ranking every judged question's passages by BM25, a document at its best passage. */
function quality({ passages, questions, allWordsFirst = true, length = 'distinct', idf: rarity = 'documents' }: Ranking, collection: Collection): Quality {
  const lengthOf = (passage: Passage) => (length === 'distinct' ? passage.frequencies.size : [...passage.frequencies.values()].reduce((sum, n) => sum + n, 0));
  const averageLength = passages.reduce((sum, passage) => sum + lengthOf(passage), 0) / passages.length;
  const chunkCounts = new Map<string, number>();
  for (const passage of passages) for (const term of passage.frequencies.keys()) chunkCounts.set(term, (chunkCounts.get(term) ?? 0) + 1);
  const holders = new Map<string, Set<string>>();
  for (const passage of passages) for (const term of passage.frequencies.keys()) holders.set(term, (holders.get(term) ?? new Set()).add(passage.documentId));
  const collectionSize = rarity === 'documents' ? new Set(passages.map((passage) => passage.documentId)).size : passages.length;
  const frequencyOf = (term: string) => (rarity === 'documents' ? holders.get(term)!.size : chunkCounts.get(term)!);
  const scores: { id: string; scores: QualityScores }[] = [];
  for (const [questionId, judgements] of collection.judgements) {
    // As the search does: only the words the dataset holds count, for the score and for "all".
    const terms = (questions.get(questionId) ?? []).filter((term) => chunkCounts.has(term));
    const idf = terms.map((term) => Math.log(1 + (collectionSize - frequencyOf(term) + 0.5) / (frequencyOf(term) + 0.5)));
    const scored: { documentId: string; score: number; complete: boolean }[] = [];
    for (const passage of passages) {
      const norm = K1 * (1 - B + (B * lengthOf(passage)) / averageLength);
      let score = 0;
      let matched = 0;
      terms.forEach((term, index) => {
        const frequency = passage.frequencies.get(term) ?? 0;
        if (frequency === 0) return;
        matched++;
        score += (idf[index]! * frequency * (K1 + 1)) / (frequency + norm);
      });
      if (matched > 0) scored.push({ documentId: passage.documentId, score, complete: matched === terms.length });
    }
    scored.sort((a, b) => (allWordsFirst ? Number(b.complete) - Number(a.complete) : 0) || b.score - a.score);
    scores.push({ id: questionId, scores: scoreRanking(firstOccurrences(scored.slice(0, TOP_K).map((passage) => passage.documentId)), judgements) });
  }
  return withHalves(scores);
}

type Texts = { id: string; text: string }[];

/** Each text's lexemes with their frequencies, as PostgreSQL makes them; `expression` reads `t.text`. */
async function lexemes(ownerUrl: string, texts: Texts, expression: string): Promise<Map<string, number>[]> {
  const { rows } = await withClient(ownerUrl, (client) =>
    client.query<{ frequencies: Record<string, number> | null }>(
      `select (select jsonb_object_agg(lexeme, cardinality(positions)) from unnest(${expression}))::json as frequencies
         from unnest($1::text[]) with ordinality as t(text, ord) order by ord`,
      [texts.map((text) => text.text)],
    ),
  );
  return rows.map((row) => new Map(Object.entries(row.frequencies ?? {})));
}

export async function relevancePartsBenchmark(command: string): Promise<void> {
  const directory = path.resolve(process.env.BENCH_RELEVANCE_DIR ?? '../shared/retrieval-eval/cranfield');
  if (!existsSync(path.join(directory, 'documents.jsonl'))) {
    console.error(`relevance-parts: no Cranfield collection at ${directory} (set BENCH_RELEVANCE_DIR)`);
    process.exitCode = 1;
    return;
  }
  const collection = await loadCollection(directory);
  const documents = collection.documents.filter((document) => document.text.trim() !== '');
  const chunks: Texts = documents.flatMap((document) => chunkText(document.text, DEFAULT_INGESTION_OPTIONS.chunking).map((chunk) => ({ id: document.id, text: chunk.content })));
  const withSlivers: Texts = documents.flatMap((document) =>
    chunkText(document.text, { ...DEFAULT_INGESTION_OPTIONS.chunking, joinShortEnd: false }).map((chunk) => ({ id: document.id, text: chunk.content })),
  );
  // The document's title before every chunk but its first (which begins with it in Cranfield).
  const titled: Texts = documents.flatMap((document) =>
    chunkText(document.text, DEFAULT_INGESTION_OPTIONS.chunking).map((chunk, ordinal) => ({ id: document.id, text: ordinal === 0 ? chunk.content : `${document.title}\n${chunk.content}` })),
  );
  const judged = collection.questions.filter((question) => collection.judgements.has(question.id));

  const database = await openBenchDatabase();
  try {
    await runMigrations({ ownerUrl: database.ownerUrl, entities, logger: createLogger({ level: 'warn' }), vectorIndexDimensions: new Set(DEFAULT_VECTOR_INDEX_DIMENSIONS) });
    const url = database.ownerUrl;
    const asPassages = (texts: Texts, frequencies: Map<string, number>[]) => texts.map((text, index) => ({ documentId: text.id, frequencies: frequencies[index]! }));
    const asQuestions = (frequencies: Map<string, number>[]) => new Map(judged.map((question, index) => [question.id, [...frequencies[index]!.keys()]]));
    const parsed = "to_tsvector('english', t.text)";
    const read = "to_tsvector('english', plain_question_text('english', t.text))";
    const chunkPassages = asPassages(chunks, await lexemes(url, chunks, parsed));
    const questionWords = asQuestions(await lexemes(url, judged, read));
    const now: Ranking = { passages: chunkPassages, questions: questionWords };
    const analysed = (texts: Texts) => texts.map((text) => ({ documentId: text.id, frequencies: analyse(text.text).reduce((map, term) => map.set(term, (map.get(term) ?? 0) + 1), new Map<string, number>()) }));
    const referenceQuestions = new Map(judged.map((question) => [question.id, [...new Set(analyse(question.text))]]));

    const rows: [string, Quality][] = [
      ['Sluice as built: question read as its words, all the words first, idf over documents, default chunks (a short end joins the chunk before it)', quality(now, collection)],
      ['… a short end of a text a chunk of its own (before 2026-12-03)', quality({ ...now, passages: asPassages(withSlivers, await lexemes(url, withSlivers, parsed)) }, collection)],
      ['… idf over chunks (before 2026-12-03)', quality({ ...now, idf: 'passages' }, collection)],
      ['… question parsed as PostgreSQL parses prose (before 2026-12-02)', quality({ ...now, questions: asQuestions(await lexemes(url, judged, parsed)) }, collection)],
      ['… without all the words first (BM25 alone)', quality({ ...now, allWordsFirst: false }, collection)],
      ['… a chunk’s length counted in tokens', quality({ ...now, length: 'tokens' }, collection)],
      ['… passages read like questions too (re-indexing every chunk)', quality({ ...now, passages: asPassages(chunks, await lexemes(url, chunks, read)) }, collection)],
      ['… the title repeated in every later chunk', quality({ ...now, passages: asPassages(titled, await lexemes(url, titled, parsed)) }, collection)],
      ['… both: passages read like questions, the title in every later chunk', quality({ ...now, passages: asPassages(titled, await lexemes(url, titled, read)) }, collection)],
      ['… whole documents instead of chunks', quality({ ...now, passages: asPassages(documents, await lexemes(url, documents, parsed)) }, collection)],
      ['Reference analysis (Porter, `stopword`) over the same chunks, BM25 alone', quality({ passages: analysed(chunks), questions: referenceQuestions, allWordsFirst: false, length: 'tokens', idf: 'passages' }, collection)],
    ];
    const bm25 = new Bm25Index(collection.documents);
    const reference = withHalves(judged.map((question) => ({ id: question.id, scores: scoreRanking(bm25.search(question.text, TOP_K), collection.judgements.get(question.id)!) })));
    rows.push(['Reference: BM25 over whole documents (bench/support/bm25.ts)', reference]);

    const body = [
      `Ranking quality, part by part: the Cranfield collection (${documents.length} documents with text, ${chunks.length} chunks by Sluice's chunker with the default ${DEFAULT_INGESTION_OPTIONS.chunking.size}/${DEFAULT_INGESTION_OPTIONS.chunking.overlap} characters; ${judged.length} judged questions, the odd-numbered half, and nDCG@10 over each half of those by question number mod 4, so that a change is seen to help both). Re-ranked offline in the benchmark process with \`sluice_bm25_search\`'s formula over lexemes PostgreSQL made; each "…" row changes one thing against the first. Every question is read as plain words. Nothing tuned.`,
      '',
      table(
        ['ranking', 'nDCG@10', 'recall@50', 'MRR@10', 'nDCG@10, questions 1, 5, 9 …', 'nDCG@10, questions 3, 7, 11 …'],
        rows.map(([name, scores]) => [name, fixed(scores.ndcg10, 3), fixed(scores.recall50, 3), fixed(scores.mrr10, 3), fixed(scores.halves[0], 3), fixed(scores.halves[1], 3)]),
      ),
    ].join('\n');
    await appendReport('Ranking quality, part by part (Cranfield)', database.description, command, body);
  } finally {
    await database.close();
  }
}
