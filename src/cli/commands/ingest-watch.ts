/**
 * `sluice ingest <dataset> <folder> --watch`: keeps a folder and a dataset in step until
 * interrupted. Each round compares the folder with what was last sent (size and modification
 * time per file, kept in the config directory across runs), uploads new and changed files
 * (each batch one job, followed live), and deletes the documents of files that are gone.
 * Unchanged files cost nothing: no read, no upload. A round runs at start, shortly after the
 * folder changes (fs.watch) and every interval (fs.watch can miss events: network
 * filesystems, editors that replace files), one at a time.
 *
 * Only documents this watcher sent are ever deleted: a dataset may hold documents from other
 * sources, and a file is known here only once it was sent from this folder.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DatasetDocument, DeleteDocumentDocument, type SluiceClient } from '../../sdk/index.js';
import type { Cli } from '../cli.js';
import { configDirectory } from '../credentials.js';
import { collectFiles, type LocalFile } from '../files.js';
import { progressView } from '../progress.js';
import { findDataset } from './datasets.js';
import { failedInputs, oneLine, uploadInBatches, type FailedInput, type UploadSettings } from './ingest-upload.js';

export interface WatchSettings extends Omit<UploadSettings, 'view'> {
  datasetRef: string;
  folder: string;
  intervalMs: number;
}

/** What was sent of one file: re-sent when either changes. */
interface SentFile {
  bytes: number;
  modifiedMs: number;
  /** Why the server refused it, if it did (not retried until the file changes). */
  failed?: string;
}

interface WatchState {
  url: string;
  datasetId: string;
  folder: string;
  files: Record<string, SentFile>;
}

export interface RoundReport {
  added: string[];
  changed: string[];
  removed: string[];
  documentsDeleted: number;
  failures: FailedInput[];
  jobs: { id: string; stage: string }[];
}

/** Events after the last change before a round starts: an editor's save is several writes. */
const SETTLE_MS = 300;

export async function watchFolder(cli: Cli, settings: WatchSettings): Promise<number> {
  const client = cli.client();
  const dataset = await findDataset(client, settings.datasetRef);
  const folder = resolve(settings.folder);
  const statePath = stateFile(cli, dataset.id, folder);
  const state = await readState(statePath, { url: cli.url, datasetId: dataset.id, folder, files: {} });
  cli.note(`Watching ${folder} for ${dataset.slug} (Ctrl-C stops)`);

  let stopping = false;
  let wake: (() => void) | undefined;
  let dirty = true;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const stop = () => {
    stopping = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(folder, { recursive: true }, poke);
    watcher.on('error', () => undefined); // the interval still looks
  } catch {
    // No recursive watch here: the interval alone.
  }
  const interval = setInterval(poke, settings.intervalMs);
  let first = true;
  try {
    while (!stopping) {
      if (!dirty) await new Promise<void>((done) => (wake = done));
      wake = undefined;
      if (stopping) break;
      // Let a burst of writes end before reading the folder.
      if (!first) await new Promise((done) => setTimeout(done, SETTLE_MS));
      dirty = false;
      const report = await syncRound(cli, client, dataset.id, folder, state, settings);
      await writeState(statePath, state);
      if (first || report.added.length + report.changed.length + report.removed.length > 0) printRound(cli, dataset.slug, report);
      first = false;
    }
    return 0;
  } finally {
    clearInterval(interval);
    watcher?.close();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function syncRound(cli: Cli, client: SluiceClient, datasetId: string, folder: string, state: WatchState, settings: WatchSettings): Promise<RoundReport> {
  const { files } = await collectFiles([folder]);
  const present = new Map(files.map((file) => [file.name, file]));
  const isNew = (file: LocalFile) => !state.files[file.name];
  const isChanged = (file: LocalFile) => {
    const sent = state.files[file.name];
    return sent !== undefined && (sent.bytes !== file.bytes || sent.modifiedMs !== file.modifiedMs);
  };
  const added = files.filter(isNew);
  const changed = files.filter(isChanged);
  const removed = Object.keys(state.files).filter((name) => !present.has(name));
  const report: RoundReport = { added: added.map((file) => file.name), changed: changed.map((file) => file.name), removed, documentsDeleted: 0, failures: [], jobs: [] };

  const toSend = [...added, ...changed];
  if (toSend.length > 0) {
    const view = cli.json ? undefined : progressView(cli.stderr);
    try {
      const { followed } = await uploadInBatches(client, datasetId, toSend, { ...settings, view: view ?? silentView });
      const outcomes = await Promise.all(followed);
      report.jobs = outcomes.map((outcome) => ({ id: outcome.jobId, stage: outcome.stage }));
      report.failures = await failedInputs(client, outcomes);
    } finally {
      view?.stop();
    }
    const failed = new Map(report.failures.map((failure) => [failure.name, failure.reason]));
    for (const file of toSend) state.files[file.name] = { bytes: file.bytes, modifiedMs: file.modifiedMs, ...(failed.has(file.name) ? { failed: failed.get(file.name) } : {}) };
  }
  if (removed.length > 0) {
    report.documentsDeleted = await deleteDocumentsOf(client, datasetId, new Set(removed));
    for (const name of removed) delete state.files[name];
  }
  return report;
}

/** The jobs are followed to their end even when nothing is shown (--json): the round reports their outcome. */
const silentView = { update: () => undefined, stop: () => undefined };

/**
 * Deletes the documents that came from these files: a file's source key is its name, or its
 * name and `#…` for each record of a JSON or CSV file (docs/ingestion.md).
 */
async function deleteDocumentsOf(client: SluiceClient, datasetId: string, names: Set<string>): Promise<number> {
  const doomed: string[] = [];
  let after: string | undefined;
  for (;;) {
    const { dataset } = await client.query(DatasetDocument, { id: datasetId, first: 100, after });
    for (const { node } of dataset?.documents.edges ?? []) {
      const hash = node.sourceKey.indexOf('#');
      if (names.has(node.sourceKey) || (hash > 0 && names.has(node.sourceKey.slice(0, hash)))) doomed.push(node.id);
    }
    if (!dataset?.documents.pageInfo.hasNextPage) break;
    after = dataset.documents.pageInfo.endCursor ?? undefined;
  }
  let deleted = 0;
  for (const id of doomed) {
    // Gone already (deleted elsewhere, or by retention): nothing left to do for it.
    const done = await client.mutate(DeleteDocumentDocument, { id }).catch((error: { code?: string }) => {
      if (error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    if (done) deleted += 1;
  }
  return deleted;
}

function printRound(cli: Cli, dataset: string, report: RoundReport): void {
  const time = new Date().toISOString().slice(11, 19);
  const parts = [`${report.added.length} added`, `${report.changed.length} changed`, `${report.removed.length} removed (${report.documentsDeleted} documents deleted)`];
  const failures = report.failures.map((failure) => `  ${oneLine(failure.name)}: ${oneLine(failure.reason)}`);
  const summary = `${time} ${dataset}: ${parts.join(', ')}${report.failures.length ? `; ${report.failures.length} failed:` : ''}`;
  // One line of JSON per round with --json (a stream of documents, not one): cli.print adds the newline.
  cli.print([summary, ...failures].join('\n'), { dataset, ...report });
}

/** One file per (server, dataset, folder): watching another folder into the same dataset keeps its own. */
function stateFile(cli: Cli, datasetId: string, folder: string): string {
  const key = createHash('sha256').update(JSON.stringify([cli.url, datasetId, folder])).digest('hex').slice(0, 24);
  return join(configDirectory(cli.env), 'watch', `${key}.json`);
}

async function readState(path: string, empty: WatchState): Promise<WatchState> {
  try {
    const stored = JSON.parse(await readFile(path, 'utf8')) as WatchState;
    return stored.datasetId === empty.datasetId && stored.folder === empty.folder && stored.files ? stored : empty;
  } catch {
    return empty; // none yet, or unreadable: everything is sent once (the server skips what it has)
  }
}

async function writeState(path: string, state: WatchState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Write then rename: an interrupted write never leaves half a file.
  await writeFile(`${path}.tmp`, JSON.stringify(state), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}
