/**
 * A passage's highlight marks each matched word with `**`, as Markdown bold. For a consumer to
 * tell a marker from the passage's own text, the text's `*` and `\` are escaped with a
 * backslash, as Markdown does (`\*`, `\\`): in a highlight, `**` is always a marker. Before
 * this (2026-12-05), a passage holding "2**10" or "**pressure**" gave highlights whose markers
 * could not be told apart from the text (the console marked words nobody asked for).
 */

/** SQL: the text of `column` escaped, for ts_headline to mark (it sees the same words: `*` and `\` are not part of any). */
export const escapedForMarksSql = (column: string) => `replace(replace(${column}, '\\', '\\\\'), '*', '\\*')`;

/** The same escaping in TypeScript, for highlights made without ts_headline (a semantic passage's opening). */
export function escapedForMarks(text: string): string {
  return text.replace(/[\\*]/g, (char) => `\\${char}`);
}

/** One mark over adjacent matches ("**9****-17**" → "**9-17**"): only markers make "****" once the text is escaped. */
export function joinedMarks(highlight: string): string {
  return highlight.replaceAll('****', '');
}
