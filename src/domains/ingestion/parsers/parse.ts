/**
 * One input to the documents it holds: plain text, Markdown and HTML give one document; JSON
 * and JSONL one per record; CSV one per row or one per file. Text is normalised (NFC, \n line
 * ends) so the same content always hashes the same.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { characterCount, oneLine, titleFromContent } from '../../display-text.js';
import { ValidationError } from '../../errors.js';
import type { IngestionOptions } from '../options.js';
import { assertTextual, type Format } from './formats.js';
import { htmlTitle, htmlToPlainText } from './html.js';
import { assertMetadataWithinLimits, assertWithinLimits, limitError, type ParseLimits } from './limits.js';
import { markdownToText } from './markdown.js';

export interface ParseInput {
  name: string;
  format: Format;
  content: string;
  /** For inline documents: the title the caller gave. */
  title?: string | null;
  metadata?: Record<string, unknown>;
}

export interface ParsedDocument {
  /** Names the document within its dataset: re-ingesting the same key replaces it. */
  sourceKey: string;
  title: string;
  text: string;
  metadata: Record<string, unknown>;
}

/** Throws a ValidationError whose `details.reason` is PARSE_ERROR (bad content) or PARSE_LIMIT (over a bound). */
export function parseDocuments(input: ParseInput, options: IngestionOptions, limits: ParseLimits): ParsedDocument[] {
  const documents: ParsedDocument[] = [];
  parseDocumentBatches(input, options, limits, (batch) => {
    for (const document of batch) documents.push(document);
  });
  return documents;
}

/**
 * A batch of at most this many documents, or of about this many characters of text, is handed
 * on as soon as it is full: a CSV file of a million short rows is a million documents, and held
 * together in the parser thread (with csv-parse's record for each) they needed about 617 bytes
 * a row, over the thread's 512 MB for 12 MB of CSV. JSON and JSONL records go the same way: each
 * batch is one message the worker's event loop (the serving one, inline) decodes, and 250 000
 * records of one 1 MB file sent as one message held it for the whole decode, in one allocation.
 * Inputs of one document come as one batch.
 */
export const DOCUMENT_BATCH_SIZE = 4096;
const DOCUMENT_BATCH_CHARS = 4 * 1024 * 1024;

/**
 * The input's documents, as parseDocuments gives them, in batches: `emit` hears each batch in
 * order, `last` true for the final one, `done` the fraction of the input read by then (for
 * JSON and JSONL, of its records). CSV, JSON and JSONL come in several batches; inputs of one
 * document in one. A failure found after some batches were emitted still throws: the input
 * fails whole, and its batches are dropped.
 */
export function parseDocumentBatches(input: ParseInput, options: IngestionOptions, limits: ParseLimits, emit: (batch: ParsedDocument[], last: boolean, done: number) => void): void {
  assertWithinLimits(input.name, input.format, input.content, limits);
  let parsed: ParsedDocument[] = [];
  let parsedChars = 0;
  let before = 0;
  // Held until a later batch with text (or the end) tells whether it is the last.
  let ready: { documents: ParsedDocument[]; done: number } | null = null;
  const settle = (last: boolean, done: number) => {
    const batch = parsed;
    parsed = [];
    parsedChars = 0;
    const one = last && before === 0 && batch.length === 1;
    for (const [index, document] of batch.entries()) assertMetadataWithinLimits(input.name, one ? 'the document' : `document ${before + index + 1}`, document.metadata, limits);
    before += batch.length;
    const documents = batch
      .map((document) => ({ ...document, text: normalise(document.text), title: titleFromContent(document.title) || input.name }))
      .filter((document) => document.text.length > 0);
    for (const document of documents) assertTextual(document.text, input.name);
    if (documents.length === 0) return;
    if (ready) emit(ready.documents, false, ready.done);
    ready = { documents, done };
  };
  const add = (document: ParsedDocument, done: number) => {
    parsed.push(document);
    parsedChars += document.text.length;
    if (parsed.length >= DOCUMENT_BATCH_SIZE || parsedChars >= DOCUMENT_BATCH_CHARS) settle(false, done);
  };
  if (input.format === 'csv') csvDocuments(input, options, limits, add);
  else if (input.format === 'json') jsonDocuments(input, options, parseJson(input.name, input.content), add);
  else if (input.format === 'jsonl') jsonDocuments(input, options, parseJsonLines(input.name, input.content), add);
  else parsed = parseByFormat(input, limits);
  settle(true, 1);
  // Read through a cast: TypeScript does not see `settle` assign it.
  const final = ready as { documents: ParsedDocument[] } | null;
  if (!final) throw parseError(input.name, 'no text in it');
  emit(final.documents, true, 1);
}

/**
 * The source key of an input's documents when its format alone decides it: text, Markdown, HTML
 * and CSV read as one file give one document named after the input (parseByFormat). Null when
 * the content decides (JSON, JSONL and CSV rows: `name#id` or `name#row-n`).
 */
export function soleSourceKey(input: Pick<ParseInput, 'name' | 'format'>, { csv }: Pick<IngestionOptions, 'csv'>): string | null {
  switch (input.format) {
    case 'text':
    case 'markdown':
    case 'html':
      return input.name;
    case 'csv':
      return csv.mode === 'FILE' ? input.name : null;
    case 'json':
    case 'jsonl':
      return null;
  }
}

/** An input of one document: text, Markdown or HTML. */
function parseByFormat(input: ParseInput, limits: ParseLimits): ParsedDocument[] {
  const one = (text: string, title: string | null): ParsedDocument[] => [
    { sourceKey: input.name, title: input.title ?? title ?? input.name, text, metadata: input.metadata ?? {} },
  ];
  switch (input.format) {
    case 'text':
      return one(input.content, null);
    case 'markdown': {
      const { text, firstHeading } = markdownToText(input.content, limits.maxDepth);
      return one(text, firstHeading);
    }
    case 'html':
      return one(htmlToPlainText(input.content, limits.maxDepth), htmlTitle(input.content));
    case 'json':
    case 'jsonl':
    case 'csv':
      throw new Error(`${input.format} is read record by record: jsonDocuments, csvDocuments`);
  }
}

function parseJson(name: string, content: string): { records: unknown[]; single: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (error) {
    throw parseError(name, `not valid JSON (${(error as Error).message})`);
  }
  return Array.isArray(value) ? { records: value, single: false } : { records: [value], single: true };
}

function parseJsonLines(name: string, content: string): { records: unknown[]; single: boolean; lines: number[] } {
  const records: unknown[] = [];
  const lines: number[] = [];
  content.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line));
      lines.push(index + 1);
    } catch (error) {
      throw parseError(name, `line ${index + 1} is not valid JSON (${(error as Error).message})`);
    }
  });
  return { records, single: false, lines };
}

/** JSON records to documents, one at a time: `add` hears each with the fraction of the records read so far. */
function jsonDocuments(
  input: ParseInput,
  { json }: IngestionOptions,
  { records, single, lines }: { records: unknown[]; single: boolean; lines?: number[] },
  add: (document: ParsedDocument, done: number) => void,
): void {
  const ids = new RecordIds(input.name, json.idField);
  records.forEach((record, index) => add(jsonDocument(record, index), (index + 1) / records.length));

  function jsonDocument(record: unknown, index: number): ParsedDocument {
    const where = lines ? `line ${lines[index]}` : single ? 'the document' : `record ${index + 1}`;
    if (typeof record === 'string') {
      return { sourceKey: single ? input.name : `${input.name}#${index + 1}`, title: `${input.name} #${index + 1}`, text: record, metadata: {} };
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw parseError(input.name, `${where} is not an object or a string`);
    }
    const text = valueAt(record, json.textField);
    if (typeof text !== 'string') throw parseError(input.name, `${where} has no string field "${json.textField}"`);
    const title = valueAt(record, json.titleField);
    const id = json.idField ? valueAt(record, json.idField) : undefined;
    if (json.idField && (typeof id !== 'string' && typeof id !== 'number')) {
      throw parseError(input.name, `${where} has no string or number field "${json.idField}"`);
    }
    const { [json.textField]: _text, ...metadata } = record as Record<string, unknown>;
    return {
      sourceKey: id !== undefined ? ids.keyOf(String(id), where) : single ? input.name : `${input.name}#${index + 1}`,
      title: typeof title === 'string' ? title : single ? input.name : `${input.name} #${index + 1}`,
      text,
      metadata: { ...input.metadata, ...metadata },
    };
  }
}

/**
 * CSV rows to documents, one row at a time (csv-parse's `on_record` hands each record over and
 * keeps none): `add` hears each row's document in ROW mode, or the file's one document at the end,
 * with the fraction of the input read so far.
 */
function csvDocuments(input: ParseInput, { csv }: IngestionOptions, limits: ParseLimits, add: (document: ParsedDocument, done: number) => void): void {
  // The header bounds every row's width: csv-parse refuses a row with more fields than it.
  const boundedHeader = (names: string[]) => {
    if (names.length > limits.maxColumns) throw limitError(input.name, `${names.length} columns, more than ${limits.maxColumns}`);
    return names;
  };
  let header: string[] = [];
  let textColumns: string[] = [];
  const ids = new RecordIds(input.name, csv.idColumn);
  let rows = 0;
  const bytes = Buffer.byteLength(input.content, 'utf8');
  let done = 0;
  // FILE mode: each row's text, joined once at the end.
  const texts: string[] = [];
  const render = (row: Record<string, string>) =>
    csv.textColumns
      ? textColumns.map((column) => row[column] ?? '').filter(Boolean).join('\n')
      : textColumns.filter((column) => row[column]).map((column) => `${column}: ${row[column]}`).join('\n');
  const onRow = (row: Record<string, string>) => {
    if (rows === 0) {
      header = Object.keys(row);
      for (const column of [...(csv.textColumns ?? []), csv.titleColumn, csv.idColumn]) {
        if (column && !header.includes(column)) throw parseError(input.name, `no column "${column}" (columns: ${header.join(', ')})`);
      }
      textColumns = csv.textColumns ?? header.filter((column) => column !== csv.idColumn);
    }
    const index = rows++;
    if (csv.mode === 'FILE') {
      texts.push(render(row));
      return;
    }
    const id = csv.idColumn ? row[csv.idColumn] : undefined;
    if (csv.idColumn && !id) throw parseError(input.name, `row ${index + 1} has an empty "${csv.idColumn}"`);
    const metadata = Object.fromEntries(Object.entries(row).filter(([column]) => !csv.textColumns?.includes(column)));
    add({
      sourceKey: id ? ids.keyOf(id, `row ${index + 1}`) : `${input.name}#row-${index + 1}`,
      title: (csv.titleColumn && row[csv.titleColumn]) || `${input.name} row ${index + 1}`,
      text: render(row),
      metadata: { ...input.metadata, ...(csv.textColumns ? metadata : {}), row: index + 1 },
    }, done);
  };
  try {
    parseCsv(input.content, {
      columns: boundedHeader,
      bom: true,
      skip_empty_lines: true,
      trim: true,
      relax_quotes: false,
      max_record_size: limits.maxLineChars,
      on_record: (row: Record<string, string>, info: { bytes: number }) => {
        done = bytes > 0 ? Math.min(1, info.bytes / bytes) : 1;
        onRow(row);
        return null;
      },
    });
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    if ((error as { code?: string }).code === 'CSV_MAX_RECORD_SIZE') throw limitError(input.name, `a record is longer than ${limits.maxLineChars} characters`);
    throw parseError(input.name, `not valid CSV (${(error as Error).message})`);
  }
  if (csv.mode === 'FILE') add({ sourceKey: input.name, title: input.title ?? input.name, text: texts.join('\n\n'), metadata: { ...input.metadata, columns: header, rows } }, 1);
}

/** A dotted path into a JSON object: `body.text`. */
function valueAt(record: object, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), record);
}

function normalise(text: string): string {
  return text.replace(/\r\n?/g, '\n').normalize('NFC').trim();
}

function parseError(name: string, problem: string): ValidationError {
  return new ValidationError(`${JSON.stringify(name)}: ${problem}`, { reason: 'PARSE_ERROR', name });
}

/** How long a record's id may be, in characters: it names its document, with the file's name. */
export const RECORD_ID_MAX = 256;

/**
 * The source key of a record a file names by its own id (`jsonIdField`, `csvIdColumn`): the id
 * is the file's content, and the key is shown (the CLI's confirmation prompt, the console), so
 * it is cleaned like a name (escape sequences, control characters and bidirectional overrides
 * gone, one line); and it is bounded, so a key always fits the unique index that finds a
 * document by it.
 */
/**
 * The keys a file's records get from their own ids (`jsonIdField`, `csvIdColumn`), each once:
 * two records of one file with one id would name one document, and the last would silently
 * replace the others while the job counted them all (an "id" column that is really a
 * category lost most of its rows). The file fails instead, naming both records.
 */
class RecordIds {
  /** Each key seen, and where (the first record that had it). */
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly name: string,
    private readonly field: string | null | undefined,
  ) {}

  keyOf(id: string, where: string): string {
    const key = recordKey(this.name, id, where);
    const first = this.seen.get(key);
    if (first !== undefined) {
      throw parseError(this.name, `${where} repeats the id "${key.slice(this.name.length + 1)}" of ${first}: the values of "${this.field}" must be unique within a file`);
    }
    this.seen.set(key, where);
    return key;
  }
}

function recordKey(name: string, id: string, where: string): string {
  const clean = oneLine(id);
  if (clean === '') throw parseError(name, `${where} has an id with no visible text`);
  if (characterCount(clean) > RECORD_ID_MAX) throw parseError(name, `${where} has an id of ${characterCount(clean)} characters; at most ${RECORD_ID_MAX}`);
  return `${name}#${clean}`;
}
