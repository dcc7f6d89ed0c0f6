/**
 * Ordinary text in bulk, seeded (the same text every run): the shapes that made chunking
 * quadratic (attacker review stop45, F6): a long paragraph of short lines with no blank line
 * between them (a log, a transcript, a poem), and one paragraph on a single line.
 */
import { seededRandom } from '../../bench/support/vectors.js';

const WORDS = 'the keeper winds lamp at dusk and sleeps ocean stone tide harbour light clockwork wick weather of a night'.split(' ');

/** Whole sentences of 4 to 14 words, now and then a question or an exclamation, up to `chars` or just past. */
function sentences(chars: number, seed: number, lineEvery: number): string {
  const random = seededRandom(seed);
  const pick = () => WORDS[Math.floor(random() * WORDS.length)]!;
  let text = '';
  let line = 0;
  while (text.length < chars) {
    const words = Array.from({ length: 4 + Math.floor(random() * 11) }, pick);
    const sentence = `${words[0]![0]!.toUpperCase()}${words.join(' ').slice(1)}${random() < 0.1 ? '?' : random() < 0.05 ? '!' : '.'}`;
    const breakLine = lineEvery > 0 && line + sentence.length > lineEvery;
    text += text === '' ? sentence : `${breakLine ? '\n' : ' '}${sentence}`;
    line = breakLine ? sentence.length : line + sentence.length + 1;
  }
  return text;
}

/** Lines of about 200 characters, single newlines only: one paragraph to the chunker. */
export const lineBrokenText = (chars: number, seed = 1) => sentences(chars, seed, 200);

/** One line, no breaks at all. */
export const oneLineText = (chars: number, seed = 2) => sentences(chars, seed, 0);
