/**
 * The extractive model's words (models/providers/extractive.ts, `wordsOf`): a regular expression
 * for text in spaced scripts, Intl.Segmenter for the rest. Both must find the words the
 * segmenter finds, so the answers it composes do not depend on which path read the text.
 */
import { expect, it } from 'vitest';
import { extractAnswer, wordsOf } from '../../src/domains/models/providers/extractive.js';

const segmenter = new Intl.Segmenter('en', { granularity: 'word' });
const segmenterWords = (text: string) => [...segmenter.segment(text)].filter((segment) => segment.isWordLike).map((segment) => segment.segment);

const TEXTS = [
  "The lamp is wound at dusk. Lamps burn oil; don't they? It's 3.5 m tall, e.g. the U.S.A. model (v1.2) costs $1,000.50 or 2,5 €.",
  "Ein Überraschungsei für Müller's Café, naïve façade, coöperate; l'avion d'Air France à 10:30.",
  "O'Neill's rock'n'roll, rock’n’roll, Mid·dot, hyphen‐ated, dashes – and —, ellipsis… tabs\tand\nnewlines.",
  'Москва — столица России. Ελληνικά γράμματα. العربية لغة. ąčęėįšųūž, ĳ, ß, İstanbul, Ａｂｃ １２３.',
  'snake_case, __dunder__, __ and _ alone, foo-bar baz/qux, user@example.com, https://example.com/a?b=c#d, #tag @handle',
  'co\u00ADoperate, zero\u200Bwidth, ZWJ\u200Djoin, emoji 👍🏽 and 👨‍👩‍👧 and ❤️, ½ and ² and Ⅻ, x² y₂, a\u0301b',
  "a.1 and 1.a and a:b and 10:30 and 1,a and a,1 and 1.000,50 and 3'000 and 12.5% and -7 and +3, x'y, 'quoted', \"double\", trailing' end.",
  'const x = a.b(c) && d[0]; // TODO: fix',
  // Through the segmenter: scripts without spaces, and Hebrew's joining quotes.
  '日本語のテキスト and English; ภาษาไทย; 中文分词',
  'עברית שפה, צה"ל ו-ת\'.',
];

it.each(TEXTS)('finds the words Intl.Segmenter finds: %s', (text) => {
  expect(wordsOf(text)).toEqual(segmenterWords(text));
  expect(wordsOf(text.toLowerCase())).toEqual(segmenterWords(text.toLowerCase()));
});

it('answers from the sentences sharing the most words with the question, cited by passage', () => {
  const passages = [
    { chunkId: 'a', documentTitle: 'Lamps', score: 2, text: 'The lamp is wound at dusk. Lamps burn whale oil until dawn.' },
    { chunkId: 'b', documentTitle: 'Ships', score: 1, text: "The ship's lamp burns oil. Sailors don't sleep." },
  ];
  expect(extractAnswer('which lamps burn oil?', passages, 2)).toEqual({
    answer: 'Lamps burn whale oil until dawn. [1] The ship\'s lamp burns oil. [2]',
    cited: [0, 1],
  });
});
