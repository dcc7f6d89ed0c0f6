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
  /** Where a wait for the tenant's queue is told: a line on stderr. */
  note: (line: string) => void;
}

/**
 * Sends files in batches (each one job), halving a batch the server finds too large; follows
 * each job in `view`. A tenant may have only so many jobs queued or running (RATE_LIMITED,
 * `reason: QUEUED_JOBS`, with `max`; docs/ingestion.md): a refused batch was not kept, so it
 * is sent again once one of this upload's own jobs has ended (or, when none of the tenant's
 * jobs is this upload's, after the `retryAfterSeconds` the server gave), and from then on at
 * most `max` of this upload's jobs are queued or running at once. Any other refusal is thrown.
 */
export async function uploadInBatches(client: SluiceClient, datasetId: string, files: LocalFile[], { options, batchBytes, view, note }: UploadSettings) {
  const followed: Promise<Progress>[] = [];
  const jobs: { id: string; files: string[] }[] = [];
  // Stops following this upload's jobs when it fails: a follower left running would keep the command alive after its error.
  const stopped = new AbortController();
  const inFlight = jobsInFlight(client, view, stopped.signal);
  const pending = batches(files, 100, batchBytes);
  let max: number | undefined;
  try {
    while (pending.length > 0) {
      // The server would refuse one more: wait for room instead of asking.
      while (max !== undefined && inFlight.size() >= max) await inFlight.oneEnds();
      const batch = pending[0]!;
      const job = await upload(client, datasetId, batch, options).catch((error: unknown) => {
        if (isQueuedJobs(error)) return error;
        // The server's limits (the ingestion's, or the HTTP body's) are smaller than ours: send the batch in two halves instead.
        if (error instanceof SluiceError && (error.code === 'PAYLOAD_TOO_LARGE' || TOO_BIG.has(String(error.details.reason))) && batch.length > 1) return undefined;
        throw error;
      });
      if (!job) {
        const half = Math.ceil(batch.length / 2);
        pending.splice(0, 1, batch.slice(0, half), batch.slice(half));
        continue;
      }
      if (job instanceof SluiceError) {
        max = typeof job.details.max === 'number' && job.details.max >= 1 ? job.details.max : max;
        const full = `Waiting: the tenant has the most ingestion jobs it may have queued or running (${max ?? 'its limit'})`;
        const left = pending.reduce((sum, waiting) => sum + waiting.length, 0);
        if (inFlight.size() > 0) {
          note(`${full}; the other ${left} files go as this upload's ${inFlight.size()} jobs end`);
          await inFlight.oneEnds();
        } else {
          // Every queued job is someone else's: only the server's estimate says when to try again.
          const seconds = typeof job.details.retryAfterSeconds === 'number' && job.details.retryAfterSeconds > 0 ? job.details.retryAfterSeconds : 30;
          note(`${full}, none of them this upload's; trying again in ${seconds} s (${left} files left to send)`);
          await new Promise((done) => setTimeout(done, seconds * 1000));
        }
        continue;
      }
      pending.shift();
      jobs.push({ id: job.id, files: batch.map((file) => file.name) });
      const end = inFlight.add(job.id, `job ${jobs.length}`);
      if (end) followed.push(end);
    }
  } catch (error) {
    stopped.abort(error);
    const sent = jobs.reduce((sum, job) => sum + job.files.length, 0);
    if (sent > 0) note(`${sent} of ${files.length} files were sent before this, as jobs ${jobs.map((job) => job.id).join(', ')}; those jobs go on`);
    throw error;
  }
  return { jobs, followed };
}

const isQueuedJobs = (error: unknown): error is SluiceError => error instanceof SluiceError && error.code === 'RATE_LIMITED' && error.details.reason === 'QUEUED_JOBS';

/**
 * This upload's jobs not yet seen to end, oldest first. With a view each is followed from the
 * start; without one (`--no-wait`) only the oldest is, when room is needed: one dataset's jobs
 * run in the order queued, so it ends first, and no subscription outlives the upload.
 */
function jobsInFlight(client: SluiceClient, view: ProgressView | undefined, signal: AbortSignal) {
  const jobs: { id: string; label: string; end?: Promise<Progress> }[] = [];
  const forget = (id: string) => {
    const at = jobs.findIndex((job) => job.id === id);
    if (at >= 0) jobs.splice(at, 1);
  };
  return {
    size: () => jobs.length,
    /** Tracks a job just queued; with a view, the promise of its end. */
    add(id: string, label: string): Promise<Progress> | undefined {
      const end = view ? followJob(client, id, label, view, signal) : undefined;
      // Registered before anyone awaits `end`, so a job is forgotten before its waiter resumes.
      end?.then(() => forget(id), () => undefined);
      jobs.push({ id, label, end });
      return end;
    },
    /** Resolves once one of them has ended (rejects if its progress is lost). */
    async oneEnds(): Promise<void> {
      if (view) {
        await Promise.race(jobs.map((job) => job.end!));
        return;
      }
      const oldest = jobs[0]!;
      await followJob(client, oldest.id, oldest.label, silentView, signal);
      forget(oldest.id);
    },
  };
}

/** Follows a job to its end without showing it. */
export const silentView: ProgressView = { update: () => undefined, note: () => undefined, stop: () => undefined };

async function upload(client: SluiceClient, datasetId: string, batch: LocalFile[], options: IngestionOptionsInput) {
  const files = await Promise.all(batch.map(async (file) => new File([await readFile(file.path)], file.name)));
  // The names go beside the files: multipart parsers keep only the last segment of a file's name, and "sub/a.md" must not become "a.md".
  // QUEUED_JOBS is not retried blindly by the client: room comes when this upload's own jobs end (uploadInBatches).
  return (
    await client.mutate(IngestDocumentsDocument, { datasetId, files, fileNames: batch.map((file) => file.name), options }, { retryRateLimited: (error) => !isQueuedJobs(error) })
  ).ingestDocuments;
}

/**
 * The job's progress in `view` until it ends (its last event); a dropped stream resumes where it
 * left off. Once `signal` aborts, it stops following and rejects with the signal's reason.
 */
export async function followJob(client: SluiceClient, jobId: string, label: string, view: ProgressView, signal?: AbortSignal): Promise<Progress> {
  let last: Progress | undefined;
  let dropped: SluiceError | undefined;
  // A stream that ends early or drops is resumed after the last event seen; an error the
  // server answered (the job is gone, the session ended) is final.
  for (let attempt = 0; attempt < 5 && !signal?.aborted; attempt += 1) {
    const events = client.subscribe(IngestionProgressDocument, { jobId, after: last?.sequence });
    const stop = () => void events.return?.();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const { ingestionProgress } of events) {
        last = ingestionProgress;
        view.update(label, ingestionProgress);
        if (TERMINAL.has(ingestionProgress.stage)) return ingestionProgress;
      }
    } catch (error) {
      if (signal?.aborted) break;
      if (!(error instanceof SluiceError) || error.code !== 'NETWORK_ERROR') throw error;
      dropped = error;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }
  if (signal?.aborted) throw signal.reason;
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

