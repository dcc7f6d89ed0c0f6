/**
 * A generated Markdown corpus, one file at a time (never the whole corpus in memory):
 * headings, paragraphs of varied sentences, lists, links and code blocks, from a seeded
 * generator so every run ingests the same bytes.
 */
import { seededRandom } from './vectors.js';

const STEMS = (
  'data stream index query tenant policy model endpoint chunk document search ranking answer cite ' +
  'river harbour sluice gate canal lock basin current tide flood meadow valley ridge summit ' +
  'engine parser token schema vector signal packet buffer socket cluster replica shard ' +
  'history archive letter journal record ledger census survey atlas chronicle almanac ' +
  'market trade harvest grain timber copper salt wool spice silver bridge tower mill forge'
).split(' ');
const SUFFIXES = ['', '', '', 's', 'ing', 'ed', 'er', 'ly', 'ness', 'ation'];

export interface CorpusFile {
  name: string;
  content: string;
}

export function* markdownCorpus(totalBytes: number, fileBytes: number, seed = 42): Generator<CorpusFile> {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  // A vocabulary of a few thousand distinct words, so the search index has real variety.
  const word = () => `${pick(STEMS)}${pick(SUFFIXES)}${next() < 0.3 ? Math.floor(next() * 40) : ''}`;
  const sentence = () => {
    const words = Array.from({ length: 6 + Math.floor(next() * 18) }, word);
    words[0] = words[0]!.charAt(0).toUpperCase() + words[0]!.slice(1);
    return `${words.join(' ')}${pick(['.', '.', '.', '?', '!'])}`;
  };
  const paragraph = () => Array.from({ length: 2 + Math.floor(next() * 6) }, sentence).join(' ');
  const block = (): string => {
    const roll = next();
    if (roll < 0.1) return `${'#'.repeat(2 + Math.floor(next() * 2))} ${sentence().slice(0, -1)}`;
    if (roll < 0.18) return Array.from({ length: 3 + Math.floor(next() * 4) }, () => `- ${sentence()}`).join('\n');
    if (roll < 0.22) return `\`\`\`\n${Array.from({ length: 4 }, () => `${word()}(${word()}, ${word()});`).join('\n')}\n\`\`\``;
    if (roll < 0.3) return `${paragraph()} See [the ${word()} notes](https://example.com/${word()}) for more.`;
    return paragraph();
  };

  let produced = 0;
  for (let index = 0; produced < totalBytes; index += 1) {
    const parts = [`# ${sentence().slice(0, -1)}`];
    let size = parts[0]!.length;
    const target = Math.min(fileBytes, totalBytes - produced);
    while (size < target) {
      const text = block();
      parts.push(text);
      size += text.length + 2;
    }
    const content = parts.join('\n\n');
    produced += Buffer.byteLength(content);
    yield { name: `doc-${String(index).padStart(5, '0')}.md`, content };
  }
}
