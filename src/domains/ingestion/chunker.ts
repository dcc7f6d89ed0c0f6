/**
 * Splits a document's text into overlapping chunks that respect its structure: whole
 * paragraphs where they fit, else whole sentences (Intl.Segmenter), else words, and only as a
 * last resort a hard cut. Sizes are characters (JavaScript string length). Each chunk is an
 * exact span of the text, so offsets point back into the document.
 *
 * With `joinShortEnd` (the default), a rest shorter than half of `size` at the end of a text
 * joins the chunk before it instead of becoming a sliver of its own: a text up to 1.5 × `size`
 * is one chunk, and the last chunk of a longer one reaches at most 1.5 × `size`. A sliver is
 * ranked against whole chunks as if it were a document of its own, which costs ranking quality
 * (docs/endpoints.md, "Ranking quality").
 */
import { isHighSurrogate } from '../../platform/text/code-points.js';
import type { ChunkingOptions } from './options.js';
import { SENTENCE_WINDOW, sentenceSpans, type Span } from './sentences.js';

export interface TextChunk {
  content: string;
  start: number;
  end: number;
}

/**
 * `onChunk` hears where each chunk ends, for progress through a long text. `sentenceWindow`
 * (sentences.ts) changes only the time taken, never the chunks: tests compare the default with
 * `Infinity`, the whole paragraph segmented at once.
 */
export function chunkText(
  text: string,
  {
    size,
    overlap,
    joinShortEnd = true,
    sentenceWindow = SENTENCE_WINDOW,
  }: Pick<ChunkingOptions, 'size' | 'overlap'> & Partial<Pick<ChunkingOptions, 'joinShortEnd'>> & { sentenceWindow?: number },
  onChunk?: (end: number) => void,
): TextChunk[] {
  const units = atomicUnits(text, size, sentenceWindow);
  const chunks: TextChunk[] = [];
  let first = 0;
  while (first < units.length) {
    let last = first;
    while (last + 1 < units.length && units[last + 1]!.end - units[first]!.start <= size) last++;
    if (joinShortEnd && last + 1 < units.length && units.at(-1)!.end - units[last + 1]!.start < size / 2) last = units.length - 1;
    chunks.push(trimmedChunk(text, units[first]!.start, units[last]!.end));
    onChunk?.(units[last]!.end);
    if (last + 1 >= units.length) break;
    // The next chunk starts with the trailing units of this one that fit in `overlap`, as long
    // as they leave room for the next unit.
    let next = last + 1;
    while (
      next - 1 > first &&
      units[last]!.end - units[next - 1]!.start <= overlap &&
      units[last + 1]!.end - units[next - 1]!.start <= size
    ) {
      next--;
    }
    first = next;
  }
  return chunks;
}

/** Paragraphs no larger than `size`; larger ones split into sentences, then words, then cuts. */
function atomicUnits(text: string, size: number, sentenceWindow: number): Span[] {
  const units: Span[] = [];
  for (const paragraph of spans(text, /\n\s*\n/g)) {
    if (paragraph.end - paragraph.start <= size) {
      units.push(paragraph);
      continue;
    }
    for (const segment of sentenceSpans(text, paragraph, sentenceWindow)) {
      const sentence = trim(text, segment);
      if (sentence.end <= sentence.start) continue;
      if (sentence.end - sentence.start <= size) units.push(sentence);
      else for (const piece of splitLong(text, sentence, size)) units.push(piece);
    }
  }
  return units;
}

/** Cuts a span longer than `size` at the last whitespace before each limit (or at the limit). */
function splitLong(text: string, span: Span, size: number): Span[] {
  const pieces: Span[] = [];
  let start = span.start;
  while (span.end - start > size) {
    let cut = start + size;
    const window = text.slice(start, cut);
    const space = window.search(/\s\S*$/);
    if (space > size / 2) cut = start + space;
    // Never cut a surrogate pair in half.
    if (isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
    pieces.push(trim(text, { start, end: cut }));
    start = cut;
  }
  pieces.push(trim(text, { start, end: span.end }));
  return pieces.filter((piece) => piece.end > piece.start);
}

/** The non-blank spans of `text` between matches of `separator`. */
function spans(text: string, separator: RegExp): Span[] {
  const result: Span[] = [];
  let start = 0;
  for (const match of text.matchAll(separator)) {
    result.push(trim(text, { start, end: match.index }));
    start = match.index + match[0].length;
  }
  result.push(trim(text, { start, end: text.length }));
  return result.filter((span) => span.end > span.start);
}

function trim(text: string, { start, end }: Span): Span {
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return { start, end };
}

function trimmedChunk(text: string, start: number, end: number): TextChunk {
  const span = trim(text, { start, end });
  return { content: text.slice(span.start, span.end), start: span.start, end: span.end };
}
