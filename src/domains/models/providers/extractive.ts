/**
 * `extractive`: answers with no model server at all, so a fresh install answers questions.
 * It picks the sentences of the retrieved passages that share the most terms with the
 * question, keeps them in passage order, and marks each with the passage it came from
 * (`[n]`, n counting the passages from 1), citing exactly the chunks it used.
 */
import { z } from 'zod';
import { estimateTokens, registerModelType, type AnswerEvent, type AnswerRequest, type ModelPassage, type TokenUsage } from '../provider.js';

const configSchema = z.strictObject({
  /** Sentences in the answer at most. */
  maxSentences: z.int().min(1).max(20).default(3),
});

const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });
const words = new Intl.Segmenter('en', { granularity: 'word' });
const STOPWORDS = new Set(
  'a an and are as at be by can do does for from how i in is it of on or that the this to was what when where which who why will with you your'.split(' '),
);

/**
 * Where only Intl.Segmenter finds the words: scripts written without spaces between words
 * (ICU's dictionaries), and Hebrew, whose quote marks join words.
 */
const SEGMENTER_SCRIPTS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\p{Script=Hebrew}]/u;
/**
 * A word as Unicode's word boundaries (UAX #29) find it in the other scripts: it starts with a
 * letter, decimal digit or underscore, goes on with those and marks, soft hyphens and joiners, is joined
 * across one apostrophe, period, colon or middle dot between letters ("don't", "e.g") and
 * one apostrophe, period, comma or semicolon between digits ("3.5", "1,000").
 */
const WORD_CHARACTER = '[\\p{L}\\p{M}\\p{Nd}\\p{Nl}_\\u00AD\\u200C\\u200D\\u2060]';
const SPACED_WORD = new RegExp(
  // A lone underscore is no word; two are.
  `(?!_(?!${WORD_CHARACTER}))[\\p{L}\\p{Nd}\\p{Nl}_]${WORD_CHARACTER}*(?:(?:(?<=[\\p{L}\\p{Nl}\\p{M}])['’.:·](?=[\\p{L}\\p{Nl}])|(?<=\\p{Nd})['’.,;](?=\\p{Nd}))${WORD_CHARACTER}+)*`,
  'gu',
);

/**
 * The words of `text`, as Intl.Segmenter's word-like segments. Text in spaced scripts (nearly
 * every passage) is split by SPACED_WORD instead: the segmenter cost about 0.4 ms of the
 * server's CPU per answer of five short passages (issue 19's query profile), a regular
 * expression a sixth of that. test/endpoints/extractive-words.test.ts holds the two to the same
 * words over texts in a dozen scripts; a rarer join the expression does not know would only
 * change which words a sentence shares with the question.
 */
export function wordsOf(text: string): string[] {
  if (!SEGMENTER_SCRIPTS.test(text)) return text.match(SPACED_WORD) ?? [];
  const found: string[] = [];
  for (const { segment, isWordLike } of words.segment(text)) if (isWordLike) found.push(segment);
  return found;
}

/** Lower-cased words of 2+ characters, with a crude stem (first 5 letters) so "rivers" meets "river". */
function terms(text: string): Set<string> {
  const found = new Set<string>();
  for (const word of wordsOf(text.toLowerCase())) {
    if (word.length > 1 && !STOPWORDS.has(word)) found.add(word.slice(0, 5));
  }
  return found;
}

interface Candidate {
  passage: number;
  position: number;
  text: string;
  score: number;
}

export function extractAnswer(query: string, passages: readonly ModelPassage[], maxSentences: number): { answer: string; cited: number[] } {
  const wanted = terms(query);
  const candidates: Candidate[] = [];
  passages.forEach((passage, index) => {
    let position = 0;
    for (const { segment } of sentences.segment(passage.text)) {
      const text = segment.replace(/\s+/g, ' ').trim();
      position += 1;
      if (text.length < 12) continue;
      const shared = [...terms(text)].filter((term) => wanted.has(term)).length;
      // Shared terms first; the retriever's rank breaks ties (earlier passages score higher).
      if (shared > 0) candidates.push({ passage: index, position, text, score: shared + 1 / (index + 2) });
    }
  });
  const chosen = candidates
    .sort((a, b) => b.score - a.score)
    .slice(0, maxSentences)
    .sort((a, b) => a.passage - b.passage || a.position - b.position);
  if (chosen.length === 0) return { answer: '', cited: [] };
  return {
    answer: chosen.map((candidate) => `${candidate.text} [${candidate.passage + 1}]`).join(' '),
    cited: [...new Set(chosen.map((candidate) => candidate.passage))],
  };
}

/** What an answer is counted as: the question and passages it read, and the text it gave (no server reports a count). */
function estimateUsage({ query, passages }: Pick<AnswerRequest, 'query' | 'passages'>, answer: string): TokenUsage {
  return { promptTokens: estimateTokens(query + passages.map((passage) => passage.text).join('\n')), completionTokens: estimateTokens(answer) };
}

registerModelType({
  kind: 'chat',
  name: 'extractive',
  description: 'Built in: composes the answer from the best-matching sentences of the passages, with citations. Needs no model server.',
  configSchema,
  acceptsApiKey: false,
  keyDestination: () => null,
  create: (config) => ({
    async *answer({ query, passages, signal }: AnswerRequest): AsyncGenerator<AnswerEvent> {
      const { answer, cited } = extractAnswer(query, passages, config.maxSentences);
      const text = answer || 'None of the passages answers this question.';
      let given = '';
      // One delta per sentence, so streaming clients see the answer build up.
      for (const piece of text.match(/[^[]+\[\d+\]\s?|.+$/g) ?? [text]) {
        // Aborted: counted as what was given so far, as a model server's answer would be.
        if (signal.aborted) break;
        given += piece;
        yield { kind: 'delta', text: piece };
      }
      yield { kind: 'done', citations: cited.map((index) => passages[index]!.chunkId), usage: estimateUsage({ query, passages }, given) };
    },
    estimateUsage,
  }),
});
