/**
 * Files dropped or chosen for ingestion: folders walked (a dropped folder, or one chosen with
 * the folder picker), each file named by its path inside what was dropped so two `notes.md`
 * in different folders stay two documents, and the ones Sluice cannot read set aside with a
 * note instead of refusing the whole drop.
 *
 * The formats mirror the server's (docs/ingestion.md, "Formats"): a MIME type decides, an
 * empty or `application/octet-stream` one falls back to the extension. The server still
 * decides; what it refuses per file is skipped too (upload.ts).
 */

const MIME_TYPES = new Set([
  'text/plain',
  'text/markdown',
  'text/x-markdown',
  'text/html',
  'application/xhtml+xml',
  'application/json',
  'application/jsonl',
  'application/x-ndjson',
  'application/x-jsonlines',
  'application/jsonlines',
  'text/csv',
]);
const MIME_OF_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  text: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  json: 'application/json',
  jsonl: 'application/jsonl',
  ndjson: 'application/jsonl',
  csv: 'text/csv',
};
const EXTENSIONS = new Set(Object.keys(MIME_OF_EXTENSION));
export const ACCEPTED_EXTENSIONS = [...EXTENSIONS].map((extension) => `.${extension}`);

export interface SkippedFile {
  name: string;
  why: string;
}

/** Why Sluice cannot ingest this file, or undefined if it can. */
export function whyUnsupported(file: File): string | undefined {
  const mime = file.type.split(';')[0]!.trim().toLowerCase();
  if (mime && mime !== 'application/octet-stream') return MIME_TYPES.has(mime) ? undefined : `its type ${mime} is not one Sluice reads`;
  const extension = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase();
  if (extension && EXTENSIONS.has(extension)) return undefined;
  return extension ? `.${extension} files are not a format Sluice reads` : 'it has no extension to tell its format by';
}

/** Splits files into those to send and those skipped (with why). */
export function sortOut(files: File[]): { accepted: File[]; skipped: SkippedFile[] } {
  const accepted: File[] = [];
  const skipped: SkippedFile[] = [];
  for (const file of files) {
    if (file.size === 0) skipped.push({ name: file.name, why: 'it is empty' });
    else {
      const why = whyUnsupported(file);
      if (why) skipped.push({ name: file.name, why });
      else accepted.push(file);
    }
  }
  return { accepted, skipped };
}

/** A chosen file named by its path in the chosen folder (the folder picker sets webkitRelativePath). */
export function named(file: File, path = file.webkitRelativePath): File {
  return path && path !== file.name ? new File([file], path, { type: file.type, lastModified: file.lastModified }) : file;
}

/** The files of a drop, folders walked. */
export async function filesOfDrop(transfer: DataTransfer): Promise<File[]> {
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.()).filter((entry): entry is FileSystemEntry => Boolean(entry));
  // No entries API (or plain files only): the files as they are.
  if (entries.length === 0 || entries.every((entry) => entry.isFile)) return [...transfer.files];
  const files: File[] = [];
  for (const entry of entries) await walk(entry, files);
  return files;
}

async function walk(entry: FileSystemEntry, into: File[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    into.push(named(file, entry.fullPath.replace(/^\//, '')));
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches (100 in Chromium) until it answers none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const child of batch) await walk(child, into);
  }
}

/** Formats whose one file becomes many documents, named `<file>#<record>`. */
const RECORD_TYPES = new Set(['application/json', 'application/jsonl', 'text/csv']);

/**
 * A file chosen to re-ingest a document, named as the document's source so it replaces it: a
 * record of a JSON, JSON Lines or CSV file is replaced by sending the whole file under that
 * file's name. Its type comes from the chosen file (its extension, when the browser gives
 * none), since the document's name may not end in one.
 */
export function replacementFor(file: File, document: { sourceKey: string; mimeType: string }): File {
  const name = RECORD_TYPES.has(document.mimeType) ? document.sourceKey.replace(/#[^#]*$/, '') : document.sourceKey;
  const extension = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase() ?? '';
  const type = file.type && file.type !== 'application/octet-stream' ? file.type : (MIME_OF_EXTENSION[extension] ?? file.type);
  return new File([file], name, { type, lastModified: file.lastModified });
}
