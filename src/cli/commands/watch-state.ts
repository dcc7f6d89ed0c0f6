/**
 * What `sluice ingest --watch` remembers between rounds and runs, one file per (server,
 * dataset, folder) in the config directory: per local file, what was sent of it (size and
 * modification time) and the documents this watcher itself wrote from it, each as it was
 * when written (id and updatedAt), so that removing the file deletes those documents only,
 * and only while nobody has written them since.
 */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Cli } from '../cli.js';
import { configDirectory } from '../credentials.js';
import { privateDirectory, readPrivateFile, UnsafeConfigFile, writePrivateFile } from '../private-files.js';

/** A document as this watcher left it: deletable while its updatedAt is still this. */
export interface SentDocument {
  id: string;
  sourceKey: string;
  updatedAt: string;
}

/** What was sent of one file: re-sent when either changes. */
export interface SentFile {
  bytes: number;
  modifiedMs: number;
  /** Why the server refused it, if it did (not retried until the file changes). */
  failed?: string;
  /**
   * The documents this watcher wrote from the file. Absent: not known (remembered by a watcher
   * before version 2, which kept no ids), so none of them is ever deleted on its removal.
   */
  documents?: SentDocument[];
}

/** 2: files carry the documents this watcher wrote. 1 (no `version`): sizes and times only. */
const VERSION = 2;

export interface WatchState {
  version: typeof VERSION;
  url: string;
  datasetId: string;
  folder: string;
  files: Record<string, SentFile>;
}

/** One file per (server, dataset, folder): watching another folder into the same dataset keeps its own. */
export function stateFile(cli: Cli, datasetId: string, folder: string): string {
  const key = createHash('sha256').update(JSON.stringify([cli.url, datasetId, folder])).digest('hex').slice(0, 24);
  return join(configDirectory(cli.env), 'watch', `${key}.json`);
}

export async function readState(path: string, empty: WatchState): Promise<WatchState> {
  let stored: Partial<WatchState> & { version?: number };
  try {
    const text = readPrivateFile(path);
    if (text === undefined) return empty;
    stored = JSON.parse(text);
  } catch (error) {
    // A state another user could have written would choose which documents get deleted: refused.
    if (error instanceof UnsafeConfigFile) throw new UnsafeConfigFile(`${error.message}; delete it to start this watch afresh`);
    return empty; // unreadable: everything is sent once (the server skips what it has)
  }
  if (stored.datasetId !== empty.datasetId || stored.folder !== empty.folder || !stored.files) return empty;
  if (stored.version === VERSION) return stored as WatchState;
  // Version 1 knew files by name only, and deleting by name deleted whatever shared the name.
  // Its files stay remembered (not sent again while unchanged), but with no documents known as
  // this watcher's: their removal deletes nothing and says so.
  const files = Object.fromEntries(Object.entries(stored.files).map(([name, { bytes, modifiedMs, failed }]) => [name, { bytes, modifiedMs, ...(failed ? { failed } : {}) }]));
  return { ...empty, files };
}

export async function writeState(path: string, state: WatchState): Promise<void> {
  // The config directory, then its watch/ (stateFile's layout), each the user's alone.
  privateDirectory(dirname(dirname(path)));
  // Write then rename: an interrupted write never leaves half a file.
  writePrivateFile(path, JSON.stringify(state));
}

export function emptyState(url: string, datasetId: string, folder: string): WatchState {
  return { version: VERSION, url, datasetId, folder, files: {} };
}
