import { terminalText } from './terminal-text.js';

/** Rows as aligned text columns, for a terminal; each cell one line of printable text. */
export function table(headers: string[], raw: string[][]): string {
  if (raw.length === 0) return '(none)';
  const rows = raw.map((row) => row.map((cell) => terminalText(cell ?? '').replace(/\s+/g, ' ')));
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
