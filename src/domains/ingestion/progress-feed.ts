/**
 * The subscriber's side of progress: the current state first (so a late subscriber is never
 * blank), the outcomes it missed when it resumes `after` a sequence, then live events,
 * ending when the job does. See progress.ts for why events are only hints.
 */
import { toUpdate, type DocumentOutcome, type JobSnapshot, type ProgressBus, type ProgressEvent, type ProgressUpdate } from './progress.js';
import { isTerminal } from './stages.js';

/** Reads of the caller's tenant, each in a short transaction of its own. */
export interface ProgressSource {
  job(jobId: string): Promise<JobSnapshot | null>;
  outcomesAfter(jobId: string, sequence: number): Promise<DocumentOutcome[]>;
  /** The dataset's jobs that are running or changed after `since`. */
  datasetJobs(datasetId: string, since: Date): Promise<JobSnapshot[]>;
}

export interface FeedOptions {
  pollMs: number;
}

export async function* followJob(
  source: ProgressSource,
  events: AsyncIterableIterator<ProgressEvent>,
  start: JobSnapshot,
  after: number | null,
  { pollMs }: FeedOptions,
): AsyncGenerator<ProgressUpdate> {
  try {
    let seen = start.sequence;
    yield toUpdate(start, after === null ? [] : await source.outcomesAfter(start.jobId, after));
    let stage = start.stage;
    let pending = events.next();
    while (!isTerminal(stage)) {
      const heard = await nextWithin(pending, pollMs);
      let update: ProgressUpdate | 'unchanged' | 'gone';
      if (heard === 'timeout') {
        update = await catchUp(source, start.jobId, seen);
      } else if (heard.done) {
        return;
      } else {
        pending = events.next();
        const event = heard.value;
        if (event.snapshot.sequence <= seen) continue;
        update = event.previousSequence <= seen ? toUpdate(event.snapshot, event.outcomes.filter((o) => o.sequence > seen)) : await catchUp(source, start.jobId, seen);
      }
      if (update === 'gone') return;
      if (update === 'unchanged') continue;
      seen = update.sequence;
      stage = update.stage;
      yield update;
    }
  } finally {
    await events.return?.();
  }
}

/** Every job of a dataset: running jobs at once, then each change; never ends by itself. */
export async function* followDataset(
  source: ProgressSource,
  events: AsyncIterableIterator<ProgressEvent>,
  datasetId: string,
  { pollMs }: FeedOptions,
): AsyncGenerator<ProgressUpdate> {
  try {
    const seen = new Map<string, number>();
    const fresh = (snapshot: JobSnapshot) => snapshot.sequence > (seen.get(snapshot.jobId) ?? -1);
    let since = new Date();
    for (const snapshot of await source.datasetJobs(datasetId, since)) {
      seen.set(snapshot.jobId, snapshot.sequence);
      yield toUpdate(snapshot, []);
    }
    let pending = events.next();
    for (;;) {
      const heard = await nextWithin(pending, pollMs);
      if (heard !== 'timeout' && heard.done) return;
      let snapshots: { snapshot: JobSnapshot; outcomes: DocumentOutcome[] }[];
      if (heard === 'timeout') {
        const polledAt = new Date();
        snapshots = (await source.datasetJobs(datasetId, new Date(since.getTime() - pollMs))).map((snapshot) => ({ snapshot, outcomes: [] }));
        since = polledAt;
      } else {
        pending = events.next();
        snapshots = [{ snapshot: heard.value.snapshot, outcomes: heard.value.outcomes }];
      }
      for (const { snapshot, outcomes } of snapshots.filter(({ snapshot }) => fresh(snapshot))) {
        const before = seen.get(snapshot.jobId) ?? -1;
        seen.set(snapshot.jobId, snapshot.sequence);
        yield toUpdate(snapshot, outcomes.filter((outcome) => outcome.sequence > before));
      }
    }
  } finally {
    await events.return?.();
  }
}

async function catchUp(source: ProgressSource, jobId: string, seen: number): Promise<ProgressUpdate | 'unchanged' | 'gone'> {
  const snapshot = await source.job(jobId);
  // Deleted with its dataset: the stream ends rather than wait forever.
  if (!snapshot) return 'gone';
  if (snapshot.sequence <= seen) return 'unchanged';
  return toUpdate(snapshot, await source.outcomesAfter(jobId, seen));
}

function nextWithin<T>(pending: Promise<IteratorResult<T>>, ms: number): Promise<IteratorResult<T> | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}
