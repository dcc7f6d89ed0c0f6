/**
 * How a job parses and chunks its inputs. Chosen per `ingestDocuments` call, stored with the
 * job so a retry or a resumed job uses exactly the same settings.
 */
import { ValidationError } from '../errors.js';

export interface ChunkingOptions {
  /** Sizes are counted in characters (Unicode code points), not model tokens. */
  unit: 'characters';
  /** Target largest chunk. */
  size: number;
  /** Characters of the previous chunk repeated at the start of the next, for context. */
  overlap: number;
  /**
   * A rest shorter than half of `size` at the end of a text joins the chunk before it (which may
   * then reach 1.5 × `size`). Jobs stored before this option existed lack it and keep their own
   * chunking: `storedIngestionOptions` reads it as false for them.
   */
  joinShortEnd: boolean;
}

export interface IngestionOptions {
  chunking: ChunkingOptions;
  /** JSON / JSONL: the field holding the text, the title, and a stable id (all dotted paths). */
  json: { textField: string; titleField: string; idField: string | null };
  /** CSV: one document per row (ROW) or per file (FILE); the columns for text, title and id. */
  csv: { mode: 'ROW' | 'FILE'; textColumns: string[] | null; titleColumn: string | null; idColumn: string | null };
}

export const DEFAULT_INGESTION_OPTIONS: IngestionOptions = {
  chunking: { unit: 'characters', size: 1000, overlap: 150, joinShortEnd: true },
  json: { textField: 'text', titleField: 'title', idField: null },
  csv: { mode: 'ROW', textColumns: null, titleColumn: null, idColumn: null },
};

export const CHUNK_SIZE_LIMITS = { min: 100, max: 20_000 } as const;

export type IngestionOptionsInput = {
  chunkSize?: number | null;
  chunkOverlap?: number | null;
  jsonTextField?: string | null;
  jsonTitleField?: string | null;
  jsonIdField?: string | null;
  csvMode?: 'ROW' | 'FILE' | null;
  csvTextColumns?: string[] | null;
  csvTitleColumn?: string | null;
  csvIdColumn?: string | null;
};

export function resolveIngestionOptions(input: IngestionOptionsInput = {}): IngestionOptions {
  const d = DEFAULT_INGESTION_OPTIONS;
  const size = input.chunkSize ?? d.chunking.size;
  const overlap = input.chunkOverlap ?? Math.min(d.chunking.overlap, Math.floor(size / 4));
  if (!Number.isInteger(size) || size < CHUNK_SIZE_LIMITS.min || size > CHUNK_SIZE_LIMITS.max) {
    throw new ValidationError(`chunkSize must be ${CHUNK_SIZE_LIMITS.min} to ${CHUNK_SIZE_LIMITS.max} characters`, { field: 'chunkSize' });
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > size / 2) {
    throw new ValidationError('chunkOverlap must be 0 to half of chunkSize', { field: 'chunkOverlap' });
  }
  const field = (value: string | null | undefined, fallback: string | null, name: string) => {
    if (value == null) return fallback;
    const trimmed = value.trim();
    if (trimmed.length < 1 || trimmed.length > 200) throw new ValidationError(`${name} must be 1 to 200 characters`, { field: name });
    return trimmed;
  };
  const columns = input.csvTextColumns?.map((column) => field(column, null, 'csvTextColumns')!) ?? null;
  if (columns && columns.length === 0) throw new ValidationError('csvTextColumns must name at least one column', { field: 'csvTextColumns' });
  return {
    chunking: { unit: 'characters', size, overlap, joinShortEnd: d.chunking.joinShortEnd },
    json: {
      textField: field(input.jsonTextField, d.json.textField, 'jsonTextField')!,
      titleField: field(input.jsonTitleField, d.json.titleField, 'jsonTitleField')!,
      idField: field(input.jsonIdField, d.json.idField, 'jsonIdField'),
    },
    csv: {
      mode: input.csvMode ?? d.csv.mode,
      textColumns: columns,
      titleColumn: field(input.csvTitleColumn, null, 'csvTitleColumn'),
      idColumn: field(input.csvIdColumn, null, 'csvIdColumn'),
    },
  };
}

/** A job's options as stored: a job stored before `joinShortEnd` existed chunks as it began, without it. */
export function storedIngestionOptions(options: IngestionOptions): IngestionOptions {
  return { ...options, chunking: { ...options.chunking, joinShortEnd: options.chunking.joinShortEnd ?? false } };
}
