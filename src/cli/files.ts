/** The files `sluice ingest` sends: named files as given, folders walked for known formats. */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';

/** What Sluice parses (docs/ingestion.md); other files in a folder are skipped, and counted. */
const INGESTIBLE = /\.(txt|text|md|markdown|html?|json|jsonl|ndjson|csv)$/i;

export interface LocalFile {
  path: string;
  /** The name Sluice stores: the path below the folder given (or the file's own name). */
  name: string;
  bytes: number;
  /** Last modified (ms since the epoch): `ingest --watch` re-sends a file when it or the size changes. */
  modifiedMs: number;
}

export async function collectFiles(paths: string[]): Promise<{ files: LocalFile[]; skipped: string[] }> {
  const files: LocalFile[] = [];
  const skipped: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new Error(`${path}: no such file or folder`);
    if (info.isFile()) files.push({ path, name: basename(path), bytes: info.size, modifiedMs: info.mtimeMs });
    else if (info.isDirectory()) await walk(path, path, files, skipped);
  }
  return { files, skipped };
}

async function walk(root: string, folder: string, files: LocalFile[], skipped: string[]): Promise<void> {
  const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.name.startsWith('.')) continue; // .git, .DS_Store and the like
    if (entry.isDirectory()) await walk(root, path, files, skipped);
    else if (entry.isFile() && INGESTIBLE.test(entry.name)) {
      // A file deleted between the listing and its stat is simply not there.
      const info = await stat(path).catch(() => undefined);
      if (info) files.push({ path, name: relative(root, path), bytes: info.size, modifiedMs: info.mtimeMs });
    }
    else if (entry.isFile()) skipped.push(path);
  }
}

/** Files in upload batches of at most `maxFiles` and about `maxBytes` (a larger file goes alone). */
export function batches(files: LocalFile[], maxFiles: number, maxBytes: number): LocalFile[][] {
  const result: LocalFile[][] = [];
  let current: LocalFile[] = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length > 0 && (current.length >= maxFiles || bytes + file.bytes > maxBytes)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.bytes;
  }
  if (current.length > 0) result.push(current);
  return result;
}
