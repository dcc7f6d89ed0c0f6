/** CLI tables (src/cli/table.ts) line their columns up by width on a terminal, not by UTF-16 code units. */
import stringWidth from 'string-width';
import { expect, it } from 'vitest';
import { columns, table } from '../../src/cli/table.js';

it('aligns columns of wide (CJK, emoji) and zero-width (combining) characters by the columns they take', () => {
  const text = table(
    ['name', 'slug', 'documents'],
    [
      ['Lamps', 'lamps', '3'],
      ['灯台の記録', 'toudai', '12'],
      ['Cafe\u0301 notes 📚', 'cafe', '7'],
    ],
  );
  const lines = text.split('\n');
  // Every slug starts in the same terminal column: after the widest name (灯台の記録: 10 columns; the third: 13).
  const startOf = (line: string, slug: string) => stringWidth(line.slice(0, line.indexOf(slug)));
  expect(lines.map((line, index) => startOf(line, ['slug', 'lamps', 'toudai', 'cafe'][index]!))).toEqual([15, 15, 15, 15]);
  expect(lines[2]).toBe('灯台の記録     toudai  12');
});

it('keeps a stream’s columns as its first page set them, a wider cell pushing only its own line', () => {
  const layout = columns(['when', 'actor'], [['10:00', 'ada']]);
  expect(layout.header).toBe('when   actor');
  expect(layout.line(['10:01', '林'])).toBe('10:01  林');
  expect(layout.line(['十時二分', 'bob'])).toBe('十時二分  bob');
});
