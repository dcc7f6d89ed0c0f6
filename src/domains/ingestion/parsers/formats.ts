/**
 * Which parser an input gets: from its declared MIME type, else from its file name. An input
 * neither names is refused when the job is created, not discovered later by the worker.
 */
import { ValidationError } from '../../errors.js';

export const FORMATS = ['text', 'markdown', 'html', 'json', 'jsonl', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

const BY_MIME: Record<string, Format> = {
  'text/plain': 'text',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/json': 'json',
  'application/jsonl': 'jsonl',
  'application/x-ndjson': 'jsonl',
  'application/x-jsonlines': 'jsonl',
  'application/jsonlines': 'jsonl',
  'text/csv': 'csv',
};

const BY_EXTENSION: Record<string, Format> = {
  txt: 'text',
  text: 'text',
  md: 'markdown',
  markdown: 'markdown',
  html: 'html',
  htm: 'html',
  json: 'json',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  csv: 'csv',
};

export const MIME_OF: Record<Format, string> = {
  text: 'text/plain',
  markdown: 'text/markdown',
  html: 'text/html',
  json: 'application/json',
  jsonl: 'application/jsonl',
  csv: 'text/csv',
};

/** `application/octet-stream` and an empty type (what browsers send for unknown files) say nothing. */
const UNINFORMATIVE = new Set(['', 'application/octet-stream']);

export function detectFormat(name: string, mimeType: string | null | undefined): Format {
  const mime = (mimeType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!UNINFORMATIVE.has(mime)) {
    const format = BY_MIME[mime];
    if (format) return format;
    throw new ValidationError(`Unsupported type ${JSON.stringify(mime)} for ${JSON.stringify(name)}; supported: ${Object.keys(BY_MIME).join(', ')}`, {
      reason: 'UNSUPPORTED_FORMAT',
      name,
    });
  }
  const extension = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  const format = extension ? BY_EXTENSION[extension] : undefined;
  if (format) return format;
  throw new ValidationError(`Cannot tell the format of ${JSON.stringify(name)}: give a MIME type or a known extension (${Object.keys(BY_EXTENSION).join(', ')})`, {
    reason: 'UNSUPPORTED_FORMAT',
    name,
  });
}

/** Text as it can be stored: no NUL (PostgreSQL text cannot hold it; such input is binary), no unpaired surrogate. */
export function assertTextual(text: string, name: string): void {
  if (text.includes('\u0000')) {
    throw new ValidationError(`${JSON.stringify(name)} contains NUL characters: binary content is not accepted`, {
      reason: 'INVALID_ENCODING',
      name,
    });
  }
  // Lone surrogates cannot be stored as UTF-8: only inline strings from JSON can carry them.
  if (!text.isWellFormed()) {
    throw new ValidationError(`${JSON.stringify(name)} contains unpaired surrogates: not valid Unicode text`, { reason: 'INVALID_ENCODING', name });
  }
}
