/**
 * `sluice ingest <dataset> <folder> --watch`: keeps a folder and a dataset in step until
 * interrupted. Each round compares the folder with what was last sent (size and modification
 * time per file, kept in the config directory across runs), uploads new and changed files
 * (each batch one job, followed live), and deletes the documents of files that are gone.
 * Unchanged files cost nothing: no read, no upload. A round runs at start, shortly after the
 * folder changes (fs.watch) and every interval (fs.watch can miss events: network
 * filesystems, editors that replace files), one at a time.
 *
 * Only documents this watcher wrote are ever deleted, and only while nobody has written them
 * since: a dataset is shared, and another member may ingest under a watched file's source key
 * (watch-documents.ts). A file's name alone never names what to delete.
 */
import { watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import { IngestionJobDocument, type SluiceClient } from '../../sdk/index.js';
import type { Cli } from '../cli.js';
import { collectFiles, type LocalFile } from '../files.js';
import { progressView } from '../progress.js';
import { findDataset } from './datasets.js';
import { failedInputs, oneLine, silentView, uploadInBatches, type FailedInput, type UploadSettings } from './ingest-upload.js';
import { deleteSentDocuments, documentsUnder, documentsWritten, type KeptDocument } from './watch-documents.js';
import { emptyState, readState, stateFile, writeState, type WatchState } from './watch-state.js';

export interface WatchSettings extends Omit<UploadSettings, 'view' | 'note'> {
  datasetRef: string;
  folder: string;
  intervalMs: number;
}

export interface RoundReport {
  added: string[];
  changed: string[];
  removed: string[];
  documentsDeleted: number;
  /** Documents of removed files left in place: written by someone else since, or not known to be this watcher's. */
  documentsKept: KeptDocument[];
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
  const state = await readState(statePath, emptyState(cli.url, dataset.id, folder));
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
  const report: RoundReport = { added: added.map((file) => file.name), changed: changed.map((file) => file.name), removed, documentsDeleted: 0, documentsKept: [], failures: [], jobs: [] };

  const toSend = [...added, ...changed];
  if (toSend.length > 0) {
    const names = new Set(toSend.map((file) => file.name));
    // What is there before the send: a document under a sent file's key that the job leaves as
    // it was (UNCHANGED) was written by someone else, and is not this watcher's to delete.
    const before = await documentsUnder(client, datasetId, names);
    const view = cli.json ? undefined : progressView(cli.stderr);
    // The jobs are followed to their end even when nothing is shown (--json): the round reports their outcome.
    let wrote: Set<string>;
    try {
      const { followed } = await uploadInBatches(client, datasetId, toSend, { ...settings, view: view ?? silentView, note: (line) => (view ? view.note(line) : cli.note(line)) });
      const outcomes = await Promise.all(followed);
      report.jobs = outcomes.map((outcome) => ({ id: outcome.jobId, stage: outcome.stage }));
      report.failures = await failedInputs(client, outcomes);
      wrote = await inputsWritten(client, outcomes.map((outcome) => outcome.jobId));
    } finally {
      view?.stop();
    }
    const after = await documentsUnder(client, datasetId, names);
    const failed = new Map(report.failures.map((failure) => [failure.name, failure.reason]));
    for (const file of toSend) {
      const documents = documentsWritten(state.files[file.name], before.get(file.name) ?? [], after.get(file.name) ?? [], wrote.has(file.name));
      state.files[file.name] = { bytes: file.bytes, modifiedMs: file.modifiedMs, ...(failed.has(file.name) ? { failed: failed.get(file.name) } : {}), ...(documents ? { documents } : {}) };
    }
  }
  if (removed.length > 0) {
    const { deleted, kept } = await deleteSentDocuments(client, removed.map((name) => [name, state.files[name]!]));
    report.documentsDeleted = deleted;
    report.documentsKept = kept;
    for (const name of removed) delete state.files[name];
  }
  return report;
}

/** The inputs (by name) whose documents these jobs wrote: added or replaced, not left as they were. */
async function inputsWritten(client: SluiceClient, jobIds: string[]): Promise<Set<string>> {
  const jobs = await Promise.all(jobIds.map(async (id) => (await client.query(IngestionJobDocument, { id })).ingestionJob));
  return new Set(
    jobs.flatMap((job) => job?.documents ?? []).filter((input) => input.status === 'DONE' && (input.outcome === 'INDEXED' || input.outcome === 'REPLACED')).map((input) => input.name),
  );
}

const KEPT_BECAUSE: Record<KeptDocument['reason'], string> = {
  CHANGED_SINCE_SENT: 'written by someone else since this watcher sent it; not deleted',
  NOT_RECORDED: 'sent before this watcher recorded which documents it wrote; not deleted (sluice documents delete removes one)',
};

function printRound(cli: Cli, dataset: string, report: RoundReport): void {
  const time = new Date().toISOString().slice(11, 19);
  const parts = [`${report.added.length} added`, `${report.changed.length} changed`, `${report.removed.length} removed (${report.documentsDeleted} documents deleted${report.documentsKept.length ? `, ${report.documentsKept.length} kept` : ''})`];
  const failures = report.failures.map((failure) => `  ${oneLine(failure.name)}: ${oneLine(failure.reason)}`);
  const kept = report.documentsKept.map((document) => `  kept ${oneLine(document.sourceKey ?? document.file)}: ${KEPT_BECAUSE[document.reason]}`);
  const summary = `${time} ${dataset}: ${parts.join(', ')}${report.failures.length ? `; ${report.failures.length} failed:` : ''}`;
  // One line of JSON per round with --json (a stream of documents, not one): cli.print adds the newline.
  cli.print([summary, ...failures, ...kept].join('\n'), { dataset, ...report });
}
