/**
 * Text people read: names, titles, descriptions. They reach terminals (the CLI), the console
 * and logs, so what is stored is cleaned first, in one way everywhere:
 *
 * - ANSI escape sequences (`ESC [ 31 m`, OSC titles, …) are removed whole (strip-ansi);
 * - Unicode is NFC, and lone surrogates become U+FFFD (PostgreSQL cannot store them);
 * - C0 and C1 control characters go: in one-line text (names, titles) tabs, newlines and the
 *   other line breaks become spaces; in descriptions newlines and tabs stay;
 * - bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) go: they
 *   make a reader see text in another order than it is stored (CVE-2021-42574, "Trojan
 *   Source"). The marks U+200E, U+200F and U+061C stay: right-to-left text needs them and
 *   they reorder nothing around them;
 * - one-line text has its runs of white space collapsed to one space; all text is trimmed.
 *
 * Cleaning is silent (none of it is visible text). Length is not: a name or title longer than
 * its maximum after cleaning is refused with BAD_USER_INPUT naming the field and the maximum,
 * never cut, except titles read from inside a file, which have no caller to tell.
 * NUL never gets here: every argument carrying one is refused first (plugins/unstorable-text-refusal.ts).
 */
import stripAnsi from 'strip-ansi';
import { ValidationError } from './errors.js';

/** Names: datasets, endpoints, models, API keys, tenants, identity providers, people. */
export const NAME_MAX = 200;
/** Document titles and uploaded file names. */
export const TITLE_MAX = 1000;
/** Descriptions (several lines). */
export const DESCRIPTION_MAX = 10_000;

/** Bidirectional embeddings, overrides and isolates. */
export const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
const LINE_BREAKS = /\r\n|[\n\v\f\r\u0085\u2028\u2029]/g;
const CONTROLS = /[\u0000-\u001F\u007F-\u009F]/g;
const CONTROLS_BUT_TAB_AND_NEWLINE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

function common(text: string): string {
  return stripAnsi(text).toWellFormed().normalize('NFC').replace(BIDI_CONTROLS, '');
}

/** One clean line: what names and titles are stored as. */
export function oneLine(text: string): string {
  return common(text).replace(LINE_BREAKS, ' ').replace(/\t/g, ' ').replace(CONTROLS, '').replace(/\s+/g, ' ').trim();
}

/** Clean text of several lines (CRLF and the other line breaks become \n; tabs stay). */
export function severalLines(text: string): string {
  return common(text).replace(LINE_BREAKS, '\n').replace(CONTROLS_BUT_TAB_AND_NEWLINE, '').trim();
}

/** Characters as people count them (code points, not UTF-16 units). */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** A name or title a caller sent, cleaned; refused when nothing is left or it is too long. */
export function displayName(value: string, field: string, max = NAME_MAX, details: Record<string, unknown> = {}): string {
  const clean = oneLine(value);
  const length = characterCount(clean);
  if (length < 1 || length > max) {
    throw new ValidationError(`${field} must be 1 to ${max} characters${length ? ` (got ${length})` : ''}`, { ...details, field, max });
  }
  return clean;
}

/** A description a caller sent, cleaned; null when nothing is left; refused when too long. */
export function displayDescription(value: string | null | undefined, field = 'description', max = DESCRIPTION_MAX): string | null {
  if (value == null) return null;
  const clean = severalLines(value);
  const length = characterCount(clean);
  if (length > max) throw new ValidationError(`${field} must be at most ${max} characters (got ${length})`, { field, max });
  return clean || null;
}

/** A title read from inside a file (no caller to tell): cleaned and, when too long, cut with an ellipsis. */
export function titleFromContent(value: string, max = TITLE_MAX): string {
  const clean = oneLine(value);
  if (characterCount(clean) <= max) return clean;
  return `${Array.from(clean).slice(0, max - 1).join('').trimEnd()}…`;
}
