/**
 * Sending files to a dataset and following the jobs, shared by `sluice ingest` and its
 * `--watch` mode: batches (halved when the server finds one too large), each job's live
 * progress (a dropped stream resumed; `datasets update` and `reembed` follow re-embed jobs the
 * same way), and the inputs that failed, with their reasons.
 */
import { readFile } from 'node:fs/promises';
import { IngestDocumentsDocument, IngestionJobDocument, IngestionProgressDocument, SluiceError, type IngestionOptionsInput, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT } from '../cli.js';
import { batches, type LocalFile } from '../files.js';
import { TERMINAL, type Progress, type ProgressView } from '../progress.js';

/** What the server refuses a batch for that a smaller batch would fix. */
const TOO_BIG = new Set(['TOO_MANY_FILES', 'REQUEST_TOO_LARGE']);

export interface UploadSettings {
  options: IngestionOptionsInput;
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
    if (view) followed.push(followJob(client, job.id, `job ${jobs.length}`, view));
  }
  return { jobs, followed };
}

async function upload(client: SluiceClient, datasetId: string, batch: LocalFile[], options: IngestionOptionsInput) {
  const files = await Promise.all(batch.map(async (file) => new File([await readFile(file.path)], file.name)));
  // The names go beside the files: multipart parsers keep only the last segment of a file's name, and "sub/a.md" must not become "a.md".
  return (await client.mutate(IngestDocumentsDocument, { datasetId, files, fileNames: batch.map((file) => file.name), options })).ingestDocuments;
}

/** The job's progress in `view` until it ends (its last event); a dropped stream resumes where it left off. */
export async function followJob(client: SluiceClient, jobId: string, label: string, view: ProgressView): Promise<Progress> {
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

