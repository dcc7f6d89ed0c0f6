/**
 * Structural bounds checked before a parser sees its input. The parsers we use (marked,
 * html-to-text, JSON.parse, csv-parse) recurse per nesting level or slow down sharply with
 * hostile shapes: 100 000 nested `> ` overflowed marked's stack, 500 000 nested `<div>`s kept
 * html-to-text busy for minutes, a header of two million empty CSV columns took 11 s. Each
 * check here is one linear, non-recursive pass, so the input is refused (PARSE_LIMIT) before
 * any parser can stall or overflow. The thread's time and memory budget
 * (document-parser.ts) is the net behind these checks, not a substitute for them.
 */
import { Parser as HtmlTokenizer } from 'htmlparser2';
import { ValidationError } from '../../errors.js';
import type { Format } from './formats.js';

export interface ParseLimits {
  /** Deepest nesting of HTML elements, JSON arrays/objects, Markdown quotes and lists. */
  maxDepth: number;
  /** Most columns in a CSV file. */
  maxColumns: number;
  /** Longest line of text, Markdown or JSONL, and longest CSV record, in characters. */
  maxLineChars: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxDepth: 200, maxColumns: 1000, maxLineChars: 1024 * 1024 };

/**
 * What one document's metadata may hold: a JSON/JSONL record's other fields and a CSV row's
 * other columns become its metadata, and every read of the document (its `metadata` field, a
 * page of 20) parses and serialises all of it on the serving thread: a record of 500 000 keys
 * (8 MB) cost seconds per read. Top-level keys: this many, or as many as a CSV file may have
 * columns when that is more (a row's other columns, at least one is its text, and its `row`).
 */
export const METADATA_MAX_KEYS = 1000;
/** Serialised as JSON (UTF-8 bytes). */
export const METADATA_MAX_BYTES = 64 * 1024;

/** Throws PARSE_LIMIT when a document's metadata is over its bounds; `where` names the record. */
export function assertMetadataWithinLimits(name: string, where: string, metadata: Record<string, unknown>, limits: ParseLimits): void {
  const maxKeys = Math.max(METADATA_MAX_KEYS, limits.maxColumns);
  const keys = Object.keys(metadata).length;
  if (keys > maxKeys) throw limitError(name, `${where} has ${keys} metadata fields, more than ${maxKeys}`);
  const bytes = Buffer.byteLength(JSON.stringify(metadata), 'utf8');
  if (bytes > METADATA_MAX_BYTES) throw limitError(name, `${where} has ${bytes} bytes of metadata, more than ${METADATA_MAX_BYTES}`);
}

/** The input is over a bound: it fails alone, with reason PARSE_LIMIT. */
export function limitError(name: string, problem: string): ValidationError {
  return new ValidationError(`${JSON.stringify(name)}: ${problem}`, { reason: 'PARSE_LIMIT', name });
}

/** Throws PARSE_LIMIT when `content` (of `format`) is over one of `limits`. */
export function assertWithinLimits(name: string, format: Format, content: string, limits: ParseLimits): void {
  switch (format) {
    case 'text':
      return assertLineLength(name, content, limits.maxLineChars);
    case 'markdown':
      assertLineLength(name, content, limits.maxLineChars);
      return assertMarkdownDepth(name, content, limits.maxDepth);
    case 'html':
      return assertHtmlDepth(name, content, limits.maxDepth);
    case 'json':
      return assertJsonDepth(name, content, limits.maxDepth);
    case 'jsonl':
      assertLineLength(name, content, limits.maxLineChars);
      return assertJsonDepth(name, content, limits.maxDepth);
    case 'csv':
      // Columns and record size are bounded by csv-parse itself (see parse.ts).
      return;
  }
}

function assertLineLength(name: string, content: string, maxLineChars: number): void {
  forEachLine(content, (start, stop, line) => {
    if (stop - start > maxLineChars) throw limitError(name, `line ${line} is longer than ${maxLineChars} characters`);
  });
}

/** Calls `visit` with each line's bounds (`stop` is its newline or the end) and its number from 1. */
function forEachLine(content: string, visit: (start: number, stop: number, line: number) => void): void {
  let start = 0;
  let line = 1;
  while (start <= content.length) {
    const end = content.indexOf('\n', start);
    const stop = end === -1 ? content.length : end;
    visit(start, stop, line);
    if (end === -1) return;
    start = end + 1;
    line += 1;
  }
}

/**
 * Nesting of arrays and objects, counted outside strings. Also right for JSONL: a valid line
 * closes what it opens, and an invalid one fails to parse anyway.
 */
function assertJsonDepth(name: string, content: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < content.length; i++) {
    const code = content.charCodeAt(i);
    if (inString) {
      if (code === 0x5c /* \ */) i++;
      else if (code === 0x22 /* " */) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b /* [ */ || code === 0x7b /* { */) {
      if (++depth > maxDepth) throw limitError(name, `nested deeper than ${maxDepth} levels`);
    } else if (code === 0x5d /* ] */ || code === 0x7d /* } */) {
      depth = Math.max(0, depth - 1);
    }
  }
}

/**
 * Markdown containers a line opens: each `>` and each list marker at its start is one level
 * (marked lexes each level with a recursive call), and a marker indented by n columns sits
 * about n/2 lists deep (nested lists are written by indenting). Indentation alone (code,
 * continuation lines) opens nothing.
 */
const CONTAINER_MARKER = /^ {0,3}(?:>|[-+*](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$))[ \t]?/;

function assertMarkdownDepth(name: string, content: string, maxDepth: number): void {
  forEachLine(content, (start, stop, line) => {
    let columns = 0;
    let at = start;
    for (; at < stop && (content[at] === ' ' || content[at] === '\t'); at++) columns += content[at] === '\t' ? 4 : 1;
    // A line over the bound is over it within its first few characters per level.
    let rest = content.slice(at, Math.min(stop, at + 8 * (maxDepth + 1)));
    let markers = 0;
    for (let match = CONTAINER_MARKER.exec(rest); match && markers <= maxDepth; match = CONTAINER_MARKER.exec(rest)) {
      markers += 1;
      rest = rest.slice(match[0].length);
    }
    const depth = markers === 0 ? 0 : markers + Math.floor(columns / 2);
    if (depth > maxDepth) throw limitError(name, `line ${line} nests quotes or lists deeper than ${maxDepth} levels`);
  });
}

/**
 * Element nesting as an HTML parser sees it (void elements and implied end tags included):
 * htmlparser2's tokenizer is a loop with an explicit stack, so even 500 000 nested elements
 * cost one linear pass. It stops at the first level over the bound.
 */
function assertHtmlDepth(name: string, content: string, maxDepth: number): void {
  let depth = 0;
  let over = false;
  const tokenizer = new HtmlTokenizer(
    {
      onopentag() {
        if (++depth > maxDepth && !over) {
          over = true;
          tokenizer.pause();
        }
      },
      onclosetag() {
        depth -= 1;
      },
    },
    { decodeEntities: false },
  );
  tokenizer.end(content);
  if (over) throw limitError(name, `elements nested deeper than ${maxDepth} levels`);
}
