/**
 * Parsers and the chunker on their own: pure functions, so these run without a server.
 * (The same code is exercised end to end, over HTTP, in ingestion.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { chunkText } from '../../src/domains/ingestion/chunker.js';
import { DEFAULT_INGESTION_OPTIONS as defaults, resolveIngestionOptions, storedIngestionOptions, type IngestionOptions } from '../../src/domains/ingestion/options.js';
import { detectFormat } from '../../src/domains/ingestion/parsers/formats.js';
import { DEFAULT_PARSE_LIMITS } from '../../src/domains/ingestion/parsers/limits.js';
import { parseDocuments } from '../../src/domains/ingestion/parsers/parse.js';

const parse = (name: string, format: Parameters<typeof parseDocuments>[0]['format'], content: string, options = defaults) =>
  parseDocuments({ name, format, content }, options, DEFAULT_PARSE_LIMITS);

describe('each format becomes the expected text', () => {
  it('plain text: line ends normalised, surrounding blank space trimmed, NFC', () => {
    expect(parse('a.txt', 'text', '\r\n  Cafe\u0301 au lait\r\nsecond line  \n\n')).toEqual([
      { sourceKey: 'a.txt', title: 'a.txt', text: 'Café au lait\nsecond line', metadata: {} },
    ]);
  });

  it('Markdown: syntax dropped, structure kept as lines, title from the first heading', () => {
    const markdown = '# Guide &amp; tips\n\nSome **bold** and [a link](https://x.test).\n\n- one\n- two\n\n```sh\nnpm test\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n';
    const [document] = parse('guide.md', 'markdown', markdown);
    expect(document!.title).toBe('Guide & tips');
    expect(document!.text).toBe('Guide & tips\n\nSome bold and a link.\n\none\ntwo\n\nnpm test\n\na | b\n1 | 2');
  });

  it('HTML: text only; scripts, styles and the head dropped; title from <title>', () => {
    const html = `<html><head><title>Hello &amp; welcome</title><style>p { color: red }</style></head>
      <body><script>alert("x")</script><h1>Heading</h1><p>Para with <a href="https://x.test">link</a>.</p>
      <noscript>enable js</noscript><p>Second</p></body></html>`;
    const [document] = parse('page.html', 'html', html);
    expect(document!.title).toBe('Hello & welcome');
    expect(document!.text).toBe('Heading\n\nPara with link.\n\nSecond');
    expect(document!.text).not.toMatch(/alert|color|enable js/);
  });

  it('JSON: an object is one document, an array one per record; other fields become metadata', () => {
    expect(parse('one.json', 'json', '{"title":"T","text":"Body","lang":"en"}')).toEqual([
      { sourceKey: 'one.json', title: 'T', text: 'Body', metadata: { title: 'T', lang: 'en' } },
    ]);
    const options = resolveIngestionOptions({ jsonTextField: 'body.text', jsonIdField: 'id' });
    const documents = parse('many.json', 'json', '[{"id":7,"body":{"text":"first"}},{"id":"x","body":{"text":"second"}}]', options);
    expect(documents.map((d) => [d.sourceKey, d.text])).toEqual([
      ['many.json#7', 'first'],
      ['many.json#x', 'second'],
    ]);
  });

  it('a record’s own id names its document cleaned like a name, and bounded', () => {
    // The id is the file's content and its key is shown (the CLI's confirmation prompt): escape
    // sequences (OSC 52 writes a terminal's clipboard), control characters and bidirectional
    // overrides go, as they go from titles.
    const options = resolveIngestionOptions({ jsonIdField: 'id' });
    const hostile = '1\u001b]52;c;ZWNobyBwd25lZA==\u0007\u001b[2K\u001b[1Ghidden\u001b]0;PWNED\u0007 \u202Egpj.exe\r\nx';
    const [document] = parse('evil.jsonl', 'jsonl', `${JSON.stringify({ id: hostile, text: 'some text' })}\n`, options);
    expect(document!.sourceKey).toBe('evil.jsonl#1hidden gpj.exe x');
    const csv = parse('evil.csv', 'csv', `id,body\n"a\u001b]0;CSVPWN\u0007b",text\n`, resolveIngestionOptions({ csvIdColumn: 'id' }));
    expect(csv.map((row) => row.sourceKey)).toEqual(['evil.csv#ab']);
    expect(() => parse('long.jsonl', 'jsonl', `${JSON.stringify({ id: 'x'.repeat(257), text: 't' })}\n`, options)).toThrow(/id of 257 characters; at most 256/);
    expect(parse('long.jsonl', 'jsonl', `${JSON.stringify({ id: '😀'.repeat(256), text: 't' })}\n`, options)[0]!.sourceKey).toBe(`long.jsonl#${'😀'.repeat(256)}`);
    expect(() => parse('blank.jsonl', 'jsonl', `${JSON.stringify({ id: '\u001b[0m', text: 't' })}\n`, options)).toThrow(/id with no visible text/);
  });

  it('JSONL: one document per non-blank line', () => {
    const documents = parse('log.jsonl', 'jsonl', '{"text":"a"}\n\n{"text":"b","title":"B"}\n');
    expect(documents.map((d) => [d.sourceKey, d.title, d.text])).toEqual([
      ['log.jsonl#1', 'log.jsonl #1', 'a'],
      ['log.jsonl#2', 'B', 'b'],
    ]);
  });

  it('CSV: one document per row (named by an id column) or one per file', () => {
    const csv = 'id,title,body,tag\n1,First,"Hello, there",x\n2,Second,Bye,y\n';
    const rows = parse('t.csv', 'csv', csv, resolveIngestionOptions({ csvIdColumn: 'id', csvTitleColumn: 'title', csvTextColumns: ['body'] }));
    expect(rows).toEqual([
      { sourceKey: 't.csv#1', title: 'First', text: 'Hello, there', metadata: { id: '1', title: 'First', tag: 'x', row: 1 } },
      { sourceKey: 't.csv#2', title: 'Second', text: 'Bye', metadata: { id: '2', title: 'Second', tag: 'y', row: 2 } },
    ]);
    const [file] = parse('t.csv', 'csv', csv, resolveIngestionOptions({ csvMode: 'FILE' }));
    expect(file!.text).toBe('id: 1\ntitle: First\nbody: Hello, there\ntag: x\n\nid: 2\ntitle: Second\nbody: Bye\ntag: y');
  });
});

describe('bad input is refused with a reason', () => {
  const reasonOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return { reason: (error as any).details?.reason, message: (error as Error).message };
    }
    throw new Error('expected an error');
  };

  // Invalid UTF-8 and NUL bytes in uploaded files: upload-decoding.test.ts.
  it('lone surrogates', () => {
    expect(reasonOf(() => parse('s.txt', 'text', 'a\ud800b')).reason).toBe('INVALID_ENCODING');
  });

  it('unknown formats', () => {
    expect(reasonOf(() => detectFormat('x.pdf', 'application/pdf')).reason).toBe('UNSUPPORTED_FORMAT');
    expect(reasonOf(() => detectFormat('noext', '')).reason).toBe('UNSUPPORTED_FORMAT');
    expect(detectFormat('notes.md', 'application/octet-stream')).toBe('markdown');
    expect(detectFormat('x', 'text/csv; charset=utf-8')).toBe('csv');
  });

  it('malformed JSON, JSONL and CSV name where', () => {
    expect(reasonOf(() => parse('a.json', 'json', '{"text": '))).toMatchObject({ reason: 'PARSE_ERROR', message: expect.stringContaining('not valid JSON') });
    expect(reasonOf(() => parse('a.jsonl', 'jsonl', '{"text":"ok"}\n{oops}')).message).toContain('line 2');
    expect(reasonOf(() => parse('a.json', 'json', '[{"text":"ok"},{"body":"no text"}]')).message).toContain('record 2 has no string field "text"');
    expect(reasonOf(() => parse('a.csv', 'csv', 'a,b\n1,2,3\n')).reason).toBe('PARSE_ERROR');
    expect(reasonOf(() => parse('e.txt', 'text', '   \n\n ')).message).toContain('no text');
  });

  it('two records of one file with one id fail the file, naming both (the last would have replaced the first)', () => {
    const json = resolveIngestionOptions({ jsonIdField: 'id' });
    expect(reasonOf(() => parse('d.json', 'json', '[{"text":"first record lamp","id":1},{"text":"second record fog","id":1}]', json))).toMatchObject({
      reason: 'PARSE_ERROR',
      message: expect.stringContaining('record 2 repeats the id "1" of record 1: the values of "id" must be unique within a file'),
    });
    // Ids equal once cleaned are one id too (a number and its string; a control character removed).
    expect(reasonOf(() => parse('d.jsonl', 'jsonl', '{"text":"a","id":7}\n\n{"text":"b","id":"7\\u0007"}\n', json))).toMatchObject({
      reason: 'PARSE_ERROR',
      message: expect.stringContaining('line 3 repeats the id "7" of line 1'),
    });
    const csv = resolveIngestionOptions({ csvIdColumn: 'id' });
    expect(reasonOf(() => parse('t.csv', 'csv', 'id,t\n1,x\n2,y\n1,z\n', csv))).toMatchObject({ reason: 'PARSE_ERROR', message: expect.stringContaining('row 3 repeats the id "1" of row 1: the values of "id" must be unique') });
    // Distinct ids, and no id field at all, are as before.
    expect(parse('t.csv', 'csv', 'id,t\n1,x\n2,y\n', csv).map((row) => row.sourceKey)).toEqual(['t.csv#1', 't.csv#2']);
    expect(parse('d.json', 'json', '[{"text":"a"},{"text":"b"}]').map((record) => record.sourceKey)).toEqual(['d.json#1', 'd.json#2']);
  });

  it('every format is bounded before its parser runs: nesting, columns, line and record length (PARSE_LIMIT)', () => {
    const limited = (name: string, format: Parameters<typeof parse>[1], content: string) => reasonOf(() => parse(name, format, content));
    const over = expect.objectContaining({ reason: 'PARSE_LIMIT' });
    const depth = DEFAULT_PARSE_LIMITS.maxDepth + 1;
    expect(limited('d.html', 'html', `${'<section>'.repeat(depth)}deep${'</section>'.repeat(depth)}`)).toEqual(over);
    expect(limited('u.html', 'html', `<ul>${'<li><ul>'.repeat(depth)}x`)).toEqual(over);
    expect(limited('o.json', 'json', `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)).toEqual(over);
    expect(limited('a.jsonl', 'jsonl', `{"text":"ok"}\n${'['.repeat(depth)}${']'.repeat(depth)}\n`)).toEqual(over);
    expect(limited('q.md', 'markdown', `${'>'.repeat(depth)} deep`)).toEqual(over);
    expect(limited('l.md', 'markdown', Array.from({ length: depth }, (_, i) => `${'  '.repeat(i)}- item ${i}`).join('\n'))).toEqual(over);
    expect(limited('n.md', 'markdown', `${'1. '.repeat(depth)}deep`)).toEqual(over);
    expect(limited('w.csv', 'csv', `${Array.from({ length: DEFAULT_PARSE_LIMITS.maxColumns + 1 }, (_, i) => `c${i}`).join(',')}\n`)).toEqual(over);
    expect(limited('r.csv', 'csv', `text\n"${'x'.repeat(DEFAULT_PARSE_LIMITS.maxLineChars + 100)}"\n`)).toEqual(over);
    expect(limited('t.txt', 'text', 'word '.repeat(DEFAULT_PARSE_LIMITS.maxLineChars / 4))).toEqual(over);
    expect(limited('t.md', 'markdown', 'word '.repeat(DEFAULT_PARSE_LIMITS.maxLineChars / 4))).toEqual(over);
    // Within the bounds, the same shapes parse; strings holding brackets are not nesting.
    expect(parse('ok.json', 'json', `{"text": "${'['.repeat(depth * 2)}"}`)[0]!.text).toBe('['.repeat(depth * 2));
    expect(parse('ok.md', 'markdown', `${'> '.repeat(10)}quoted`)[0]!.text).toBe('quoted');
    expect(parse('ok.html', 'html', `${'<div>'.repeat(50)}fine${'</div>'.repeat(50)}`)[0]!.text).toBe('fine');
  });

  it('chunking options out of range', () => {
    expect(reasonOf(() => resolveIngestionOptions({ chunkSize: 50 })).message).toContain('chunkSize');
    expect(reasonOf(() => resolveIngestionOptions({ chunkSize: 1000, chunkOverlap: 600 })).message).toContain('chunkOverlap');
  });
});

describe('the chunker', () => {
  const sentence = (i: number) => `Sentence number ${i} ends here.`;
  const paragraph = (from: number, count: number) => Array.from({ length: count }, (_, i) => sentence(from + i)).join(' ');

  it('keeps small paragraphs whole and together', () => {
    const text = `${paragraph(0, 2)}\n\n${paragraph(2, 2)}`;
    expect(chunkText(text, { size: 1000, overlap: 100 })).toEqual([{ content: text, start: 0, end: text.length }]);
  });

  it('splits a long paragraph at sentence ends, overlapping by whole sentences, each chunk an exact span', () => {
    const text = paragraph(0, 40);
    const chunks = chunkText(text, { size: 200, overlap: 60 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const [index, chunk] of chunks.entries()) {
      // The last chunk may have taken in a rest shorter than half the size.
      expect(chunk.content.length).toBeLessThanOrEqual(index === chunks.length - 1 ? 300 : 200);
      expect(text.slice(chunk.start, chunk.end)).toBe(chunk.content);
      expect(chunk.content).toMatch(/^Sentence number \d+ ends here\..*\.$/);
      if (index > 0) {
        expect(chunk.start).toBeLessThan(chunks[index - 1]!.end); // overlaps the previous chunk
        expect(chunks[index - 1]!.end - chunk.start).toBeLessThanOrEqual(60);
      }
    }
    expect(chunks.at(-1)!.end).toBe(text.length);
  });

  it('joins a rest shorter than half the size to the chunk before it, rather than leaving a sliver', () => {
    // Lower-case "sentences" as in the Cranfield abstracts: no sentence break, so cut at words.
    const words = (count: number) => Array.from({ length: count }, (_, i) => `word${i % 10}`).join(' ');
    const text = words(45); // 269 characters: a cut at a word before 200, then a rest of 71 (under 100)
    expect(chunkText(text, { size: 200, overlap: 0, joinShortEnd: false }).map((chunk) => chunk.content.length)).toEqual([197, 71]);
    expect(chunkText(text, { size: 200, overlap: 0 })).toEqual([{ content: text, start: 0, end: text.length }]);
    // A rest of half the size or more stays a chunk of its own.
    expect(chunkText(words(50), { size: 200, overlap: 0 }).map((chunk) => chunk.content.length)).toEqual([197, 101]);
    // Only the end of a text: 197 + 197 + 23 becomes 197 + 221.
    expect(chunkText(words(70), { size: 200, overlap: 0 }).map((chunk) => chunk.content.length)).toEqual([197, 221]);
    const sentencesText = paragraph(0, 9); // whole sentences, overlapping: the rest joins the last chunk
    const joined = chunkText(sentencesText, { size: 200, overlap: 60 });
    expect(joined.at(-1)!.end).toBe(sentencesText.length);
    expect(joined.length).toBeLessThan(chunkText(sentencesText, { size: 200, overlap: 60, joinShortEnd: false }).length);
  });

  it('a job stored before joinShortEnd existed chunks as it began', () => {
    const stored = { ...defaults, chunking: { unit: 'characters', size: 500, overlap: 50 } } as unknown as IngestionOptions;
    expect(storedIngestionOptions(stored).chunking).toEqual({ unit: 'characters', size: 500, overlap: 50, joinShortEnd: false });
    expect(resolveIngestionOptions({ chunkSize: 500 }).chunking.joinShortEnd).toBe(true);
    expect(storedIngestionOptions(resolveIngestionOptions({})).chunking.joinShortEnd).toBe(true);
  });

  it('cuts text without sentence or word breaks at the size, never inside a surrogate pair', () => {
    const text = '😀'.repeat(300); // 600 UTF-16 code units
    const chunks = chunkText(text, { size: 101, overlap: 0 });
    expect(chunks.every((chunk) => chunk.content.length <= 101 && chunk.content.isWellFormed())).toBe(true);
    expect(chunks.map((chunk) => chunk.content).join('')).toBe(text);
  });
});
