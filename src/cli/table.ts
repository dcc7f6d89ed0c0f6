import stringWidth from 'string-width';
import { terminalText } from './terminal-text.js';

/** Rows as aligned text columns, for a terminal; each cell one line of printable text. */
export function table(headers: string[], raw: string[][]): string {
  if (raw.length === 0) return '(none)';
  const layout = columns(headers, raw);
  return [layout.header, ...raw.map(layout.line)].join('\n');
}

/**
 * Column widths fitted to the header and `sample` (at least `minWidths`), and a formatter for
 * rows met later: a stream (`audit tail --follow`) keeps the columns its first page set, and a
 * longer cell pushes only its own line along.
 */
export function columns(headers: string[], sample: string[][], minWidths: number[] = []): { header: string; line: (row: string[]) => string } {
  const clean = (row: string[]) => row.map((cell) => terminalText(cell ?? '').replace(/\s+/g, ' '));
  const rows = sample.map(clean);
  // Columns by the cells' width on a terminal, not their UTF-16 code units: a CJK character
  // takes two columns, an emoji two, a combining accent none.
  const widths = headers.map((header, column) => Math.max(stringWidth(header), minWidths[column] ?? 0, ...rows.map((row) => stringWidth(row[column] ?? ''))));
  const pad = (cell: string, width: number) => cell + ' '.repeat(Math.max(0, width - stringWidth(cell)));
  const format = (cells: string[]) => cells.map((cell, column) => pad(cell, widths[column] ?? 0)).join('  ').trimEnd();
  return { header: format(headers), line: (row) => format(clean(row)) };
}
