/**
 * What the CLI prints of the server's data (names, titles, answers, error messages) never
 * drives the terminal: escape sequences (colours, cursor moves, window titles), other control
 * characters and bidirectional overrides are removed from text, and escaped in JSON. The
 * server already cleans names and titles it stores (src/domains/display-text.ts); this is the
 * second net, for data stored before that, or text that is not a name (answers, passages).
 */
import stripAnsi from 'strip-ansi';

// Tab and newline stay; carriage return goes (it would let text overwrite the line shown).
const UNSAFE_IN_TEXT = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;
// JSON.stringify escapes C0 controls already, not DEL, C1 controls or bidirectional overrides.
const UNSAFE_IN_JSON = /[\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

export function terminalText(text: string): string {
  return stripAnsi(text).replace(UNSAFE_IN_TEXT, '');
}

/** JSON text of `value` that means the same data and is safe to show in a terminal. */
export function terminalJson(value: unknown): string {
  return String(JSON.stringify(value)).replace(UNSAFE_IN_JSON, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Writes `text` made safe for a terminal to `stream`. With `writeJson`, the only way src/cli
 * writes to stdout or stderr (test/cli/terminal-writes.test.ts holds it to that), so data
 * from the server cannot reach the terminal raw through a write that forgot to clean it.
 */
export function writeText(stream: NodeJS.WritableStream, text: string): void {
  stream.write(terminalText(text));
}

/** Writes `value` to `stream` as one line of JSON that is safe to show in a terminal. */
export function writeJson(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(`${terminalJson(value)}\n`);
}
