/** `sluice ingest <dataset> <files or folders...>`: upload, then watch the jobs to their end. */
import { readFile } from 'node:fs/promises';
import { IngestDocumentsDocument, IngestionJobDocument, IngestionProgressDocument, SluiceError, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Cli, type Command } from '../cli.js';
import { batches, collectFiles, type LocalFile } from '../files.js';
import { progressView, TERMINAL, type Progress, type ProgressView } from '../progress.js';
import { findDataset, megabytes } from './datasets.js';
import { watchFolder } from './ingest-watch.js';

/** What the server refuses a batch for that a smaller batch would fix. */
const TOO_BIG = new Set(['TOO_MANY_FILES', 'REQUEST_TOO_LARGE']);

export const ingest: Command = {
  name: 'ingest',
  summary: 'upload files or folders into a dataset, with live progress',
  usage: '<dataset> <files or folders...> [--chunk-size <n>] [--chunk-overlap <n>] [--batch-mb <n>] [--no-wait] | <dataset> <folder> --watch [--interval <s>]',
  help: `Uploads files into a dataset (by slug or id). Folders are walked for the formats Sluice
parses (.txt .md .html .json .jsonl .csv); other files there are skipped and counted. Files go
in batches (100 files or --batch-mb, default 16 MB, per request; each batch is one job) and
each job's progress is shown live: stage, percent, documents, chunks, MB/s and ETA (a bar at a
terminal, a line per change otherwise). Exits 1 if a job or a document failed. --no-wait
returns once the files are uploaded. With --json, prints the jobs' outcomes as JSON at the end.

--watch keeps one folder and the dataset in step until Ctrl-C: new and changed files are
ingested (live progress), deleted files' documents removed, unchanged files cost nothing (what
was sent is remembered by size and time in the config directory, across runs). It looks again
when the folder changes and every --interval seconds (default 10). With --json, one JSON line
per change. See docs/cli.md.`,
  options: {
    'chunk-size': { type: 'string' },
    'chunk-overlap': { type: 'string' },
    'batch-mb': { type: 'string' },
    'no-wait': { type: 'boolean' },
    watch: { type: 'boolean' },
    interval: { type: 'string' },
  },
  async run(cli, args, values) {
    const [datasetRef, ...paths] = args;
    if (!datasetRef || paths.length === 0) throw new CliError('give a dataset and at least one file or folder', EXIT.usage);
    const options = {
      chunkSize: integerOption(values['chunk-size'], '--chunk-size'),
      chunkOverlap: integerOption(values['chunk-overlap'], '--chunk-overlap'),
    };
    const batchBytes = (integerOption(values['batch-mb'], '--batch-mb') ?? 16) * 1024 * 1024;
    if (values.watch) {
      if (paths.length !== 1) throw new CliError('--watch keeps one folder in step: give exactly one', EXIT.usage);
      const intervalSeconds = integerOption(values.interval, '--interval') ?? 10;
      if (intervalSeconds < 1) throw new CliError('--interval must be at least 1 second', EXIT.usage);
      return watchFolder(cli, { datasetRef, folder: paths[0]!, options, batchBytes, intervalMs: intervalSeconds * 1000 });
    }
    const { files, skipped } = await collectFiles(paths).catch((error: Error) => {
      throw new CliError(error.message, EXIT.usage);
    });
    if (files.length === 0) throw new CliError(`nothing to ingest in ${paths.join(', ')}${skipped.length ? ` (${skipped.length} files of other formats skipped)` : ''}`, EXIT.usage);

    const client = cli.client();
    const dataset = await findDataset(client, datasetRef);
    const total = files.reduce((sum, file) => sum + file.bytes, 0);
    if (!cli.json) cli.stderr.write(`Ingesting ${files.length} files (${megabytes(total)}) into ${dataset.slug}${skipped.length ? `; skipped ${skipped.length} of other formats` : ''}\n`);

    const view = values['no-wait'] ? undefined : progressView(cli.stderr);
    try {
      const { jobs, followed } = await uploadInBatches(client, dataset.id, files, { options, batchBytes, view });
      const outcomes = await Promise.all(followed);
      view?.stop();
      return report(cli, dataset.slug, jobs, outcomes, await failedInputs(client, outcomes));
    } catch (error) {
      view?.stop();
      throw error;
    }
  },
};

function integerOption(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new CliError(`${name} must be a whole number`, EXIT.usage);
  return number;
}

export interface UploadSettings {
  options: { chunkSize?: number; chunkOverlap?: number };
  batchBytes: number;
  /** Where each job's progress is shown; absent: not followed. */
  view?: ProgressView;
}

/** Sends files in batches (each one job), halving a batch the server finds too large; follows each job in `view`. */
export async function uploadInBatches(client: SluiceClient, datasetId: string, files: LocalFile[], { options, batchBytes, view }: UploadSettings) {
  const followed: Promise<Progress>[] = [];
  const jobs: { id: string; files: string[] }[] = [];
  const pending = batches(files, 100, batchBytes);
  while (pending.length > 0) {
    const batch = pending.shift()!;
    const job = await upload(client, datasetId, batch, options).catch((error: unknown) => {
      // The server's limits (the ingestion's, or the HTTP body's) are smaller than ours: send the batch in two halves instead.
      if (error instanceof SluiceError && (error.code === 'PAYLOAD_TOO_LARGE' || TOO_BIG.has(String(error.details.reason))) && batch.length > 1) return undefined;
      throw error;
    });
    if (!job) {
      const half = Math.ceil(batch.length / 2);
      pending.unshift(batch.slice(0, half), batch.slice(half));
      continue;
    }
    jobs.push({ id: job.id, files: batch.map((file) => file.name) });
    if (view) followed.push(follow(client, job.id, `job ${jobs.length}`, view));
  }
  return { jobs, followed };
}

async function upload(client: SluiceClient, datasetId: string, batch: LocalFile[], options: { chunkSize?: number; chunkOverlap?: number }) {
  const files = await Promise.all(batch.map(async (file) => new File([await readFile(file.path)], file.name)));
  // The names go beside the files: multipart parsers keep only the last segment of a file's name, and "sub/a.md" must not become "a.md".
  return (await client.mutate(IngestDocumentsDocument, { datasetId, files, fileNames: batch.map((file) => file.name), options })).ingestDocuments;
}

/** The job's progress until it ends; a dropped stream resumes where it left off. */
async function follow(client: SluiceClient, jobId: string, label: string, view: ProgressView): Promise<Progress> {
  let last: Progress | undefined;
  let dropped: SluiceError | undefined;
  // A stream that ends early or drops is resumed after the last event seen; an error the
  // server answered (the job is gone, the session ended) is final.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      for await (const { ingestionProgress } of client.subscribe(IngestionProgressDocument, { jobId, after: last?.sequence })) {
        last = ingestionProgress;
        view.update(label, ingestionProgress);
        if (TERMINAL.has(ingestionProgress.stage)) return ingestionProgress;
      }
    } catch (error) {
      if (!(error instanceof SluiceError) || error.code !== 'NETWORK_ERROR') throw error;
      dropped = error;
    }
  }
  if (dropped) throw dropped;
  throw new CliError(`lost the progress of ${label} (${jobId}); see it with the ingestionJob query`, EXIT.failed);
}

/** An input that did not become documents, and why. */
export interface FailedInput {
  jobId: string;
  /** Position in its job's upload. */
  index: number;
  name: string;
  reason: string;
}

/**
 * Every failed input of the jobs that had any. Progress events carry only the inputs settled
 * since the previous event, so the last one cannot name them all: the job itself is asked.
 */
export async function failedInputs(client: SluiceClient, outcomes: Progress[]): Promise<FailedInput[]> {
  const failing = outcomes.filter((outcome) => outcome.documentsFailed > 0 || outcome.documents.some((document) => document.status === 'FAILED'));
  const jobs = await Promise.all(failing.map(async (outcome) => (await client.query(IngestionJobDocument, { id: outcome.jobId })).ingestionJob));
  return jobs.flatMap((job) =>
    (job?.documents ?? [])
      .filter((document) => document.status === 'FAILED')
      .map((document) => ({ jobId: job!.id, index: document.index, name: document.name, reason: document.error ?? 'failed (no reason recorded)' })),
  );
}

/** One line of plain text: a reason or a file name never moves the cursor or colours the terminal. */
export const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();

function report(cli: Cli, dataset: string, jobs: { id: string; files: string[] }[], outcomes: Progress[], failures: FailedInput[]): number {
  if (outcomes.length === 0) {
    cli.print(`Uploaded ${jobs.length} jobs into ${dataset}: ${jobs.map((job) => job.id).join(', ')}`, { dataset, jobs });
    return EXIT.ok;
  }
  const ended = outcomes.filter((outcome) => outcome.stage !== 'COMPLETED').map((outcome) => `job ${outcome.jobId} ${outcome.stage}${outcome.error ? `: ${oneLine(outcome.error)}` : ''}`);
  const documents = outcomes.reduce((sum, outcome) => sum + outcome.documentsDone, 0);
  const chunks = outcomes.reduce((sum, outcome) => sum + outcome.chunksDone, 0);
  // The counts decide, not only the list: a failure the job could not name still fails the run.
  const failed = Math.max(failures.length, outcomes.reduce((sum, outcome) => sum + outcome.documentsFailed, 0));
  const ok = failed === 0 && ended.length === 0;
  const counts = `${documents} inputs, ${chunks} chunks into ${dataset} (${outcomes.length} jobs)`;
  const summary = ok ? `Ingested ${counts}` : `Ingestion ended with problems: ${counts}${failed > 0 ? `; ${failed} failed:` : ''}`;
  cli.print([summary, ...failures.map((failure) => `  ${oneLine(failure.name)}: ${oneLine(failure.reason)}`), ...ended].join('\n'), {
    dataset,
    ok,
    jobs: outcomes.map((outcome) => ({ id: outcome.jobId, stage: outcome.stage, documentsDone: outcome.documentsDone, documentsFailed: outcome.documentsFailed, chunks: outcome.chunksDone, error: outcome.error ?? null })),
    failures,
  });
  if (failed > 0) cli.stderr.write(`sluice ingest: ${failed} of ${documents} inputs failed\n`);
  else if (!ok) cli.stderr.write(`sluice ingest: ${ended.length} of ${outcomes.length} jobs did not complete\n`);
  return ok ? EXIT.ok : EXIT.failed;
}
