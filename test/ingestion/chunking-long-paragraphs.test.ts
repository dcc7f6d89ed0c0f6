/**
 * Chunking a long paragraph (attacker review stop45, F6): V8 copies the whole input string
 * into every segment Intl.Segmenter yields, so splitting one paragraph into sentences cost its
 * length times its sentences; 1 MB of line-broken text took ~50 s to chunk and 2 MB failed
 * with PARSE_TIMEOUT. Sentences are now found in bounded windows (sentences.ts); these tests
 * hold that the windows find exactly the sentences and chunks the whole paragraph gave.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/support/vectors.js';
import { chunkText, type TextChunk } from '../../src/domains/ingestion/chunker.js';
import { sentenceSpans } from '../../src/domains/ingestion/sentences.js';
import { lineBrokenText, oneLineText } from '../support/long-text.js';

const wholeSpan = (text: string) => {
  const segments = [...new Intl.Segmenter(undefined, { granularity: 'sentence' }).segment(text)];
  return segments.map((segment) => ({ start: segment.index, end: segment.index + segment.segment.length }));
};

/** Every chunk an exact span, in order, overlapping or touching, covering all but blank space. */
function expectComplete(text: string, chunks: TextChunk[], size: number) {
  expect(chunks[0]!.start).toBe(0);
  expect(chunks.at(-1)!.end).toBe(text.length);
  for (const [index, chunk] of chunks.entries()) {
    if (chunk.content !== text.slice(chunk.start, chunk.end)) expect(chunk.content).toBe(text.slice(chunk.start, chunk.end));
    expect(chunk.content.length).toBeLessThanOrEqual(index === chunks.length - 1 ? size * 1.5 : size);
    if (index > 0) expect(text.slice(chunks[index - 1]!.end, Math.max(chunk.start, chunks[index - 1]!.end)).trim()).toBe('');
  }
}

describe('sentences in windows', () => {
  it('are the sentences Intl.Segmenter finds over the whole text, whatever the window', () => {
    // Pieces of every sentence-break class that look ahead or behind: terminators, closing
    // quotes and brackets, spaces, digits, case, paragraph separators, marks, CJK, surrogates.
    const pieces = ['a', 'b', 'The', 'E', ' ', '  ', '.', '.', '?', '!', '...', '"', "'", ')', '(', '1', '23', '\n', '\u2029', ',', ';', '。', 'ע', '\u0301', '\t', 'U.S.', 'etc. ', '. a', '.) b', '." C', '😀', '\u00a0', '…'];
    const random = seededRandom(45);
    for (let round = 0; round < 1500; round++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 100) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
      const whole = wholeSpan(text);
      for (const window of [1, 2, 5, 13, 40]) {
        const windowed = sentenceSpans(text, { start: 0, end: text.length }, window);
        if (JSON.stringify(windowed) !== JSON.stringify(whole)) expect({ text, window, windowed }).toEqual({ text, window, windowed: whole });
      }
    }
  });

  it('a sentence longer than the window, and a span inside a longer text', () => {
    const text = `Intro. ${'word '.repeat(500)}end. Short one. Another?`;
    expect(sentenceSpans(text, { start: 0, end: text.length }, 64)).toEqual(wholeSpan(text));
    const inner = { start: 7, end: text.length - 9 };
    expect(sentenceSpans(text, inner, 64)).toEqual(wholeSpan(text.slice(inner.start, inner.end)).map((s) => ({ start: s.start + 7, end: s.end + 7 })));
  });
});

describe('chunking a long paragraph', () => {
  for (const [shape, make] of [['line-broken lines', lineBrokenText], ['one line', oneLineText]] as const) {
    it(`${shape}: the same chunks as the whole paragraph segmented at once`, () => {
      const text = make(60_000);
      for (const options of [{ size: 1000, overlap: 150 }, { size: 200, overlap: 60, joinShortEnd: false }, { size: 5000, overlap: 500 }]) {
        expect(chunkText(text, options)).toEqual(chunkText(text, { ...options, sentenceWindow: Infinity }));
      }
    });

    it(`${shape}: 2 MB is chunked completely`, () => {
      const text = make(2_000_000);
      const chunks = chunkText(text, { size: 1000, overlap: 150 });
      expectComplete(text, chunks, 1000);
      // Chunks end at sentence ends (each sentence is far shorter than a chunk).
      expect(chunks.every((chunk) => /[.?!]$/.test(chunk.content))).toBe(true);
      expect(chunks.length).toBeGreaterThan(2_000_000 / 1000);
    });
  }
});
