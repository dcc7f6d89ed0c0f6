/**
 * The subscriber's side of progress: the current state first (so a late subscriber is never
 * blank), the outcomes it missed when it resumes `after` a sequence, then live events,
 * ending when the job does. See progress.ts for why events are only hints, and
 * progress-topics.ts for the one reader many subscribers of a job or dataset share.
 */
import { listenerStream } from '../../platform/subscriptions/listener-stream.js';
import type { TopicReaders } from '../../platform/subscriptions/topic-readers.js';
import { datasetTopic, jobTopic, type DatasetListener, type JobListener, type ProgressSource } from './progress-topics.js';
import { toUpdate, type DocumentOutcome, type JobSnapshot, type ProgressBus, type ProgressUpdate } from './progress.js';
import { isTerminal } from './stages.js';

export type { ProgressSource } from './progress-topics.js';

export interface FeedOptions {
  /** Whose data this is: topics are per tenant, and read in its scope. */
  tenantId: string;
  bus: ProgressBus;
  readers: TopicReaders;
  pollMs: number;
}

/** One job: `start` (read by the caller, who refused a job it cannot see), then each change. */
export function followJob(source: ProgressSource, start: JobSnapshot, missed: DocumentOutcome[], { tenantId, bus, readers, pollMs }: FeedOptions): AsyncIterableIterator<ProgressUpdate> {
  return listenerStream<ProgressUpdate>(async ({ send, end }) => {
    let seen = start.sequence;
    send(toUpdate(start, missed));
    if (isTerminal(start.stage)) {
      end();
      return undefined;
    }
    const listener: JobListener = {
      source,
      seen: () => seen,
      deliver: (update) => {
        if (update.sequence <= seen) return;
        seen = update.sequence;
        send(update);
        if (isTerminal(update.stage)) end();
      },
      gone: () => end(),
    };
    const membership = readers.join(`${tenantId}:job:${start.jobId}`, listener, pollMs, (topic) => jobTopic(bus, tenantId, start.jobId, topic));
    // Whatever changed between reading `start` and joining: one (shared) read catches up.
    membership.wake();
    return membership;
  });
}

/** Every job of a dataset: running jobs at once, then each change; never ends by itself. */
export function followDataset(source: ProgressSource, datasetId: string, { tenantId, bus, readers, pollMs }: FeedOptions): AsyncIterableIterator<ProgressUpdate> {
  return listenerStream<ProgressUpdate>(async ({ send, ended }) => {
    const seen = new Map<string, number>();
    const listener: DatasetListener = {
      source,
      offer: (snapshot, outcomes) => {
        const before = seen.get(snapshot.jobId) ?? -1;
        if (snapshot.sequence <= before) return;
        seen.set(snapshot.jobId, snapshot.sequence);
        send(toUpdate(snapshot, outcomes.filter((outcome) => outcome.sequence > before)));
      },
    };
    // Joined first, so a change while the running jobs are read is heard, not lost.
    const membership = readers.join(`${tenantId}:dataset:${datasetId}`, listener, pollMs, (topic) => datasetTopic(bus, tenantId, datasetId, pollMs, topic));
    try {
      if (!ended()) for (const snapshot of await source.datasetJobs(datasetId, new Date())) listener.offer(snapshot, []);
    } catch (error) {
      membership.leave();
      throw error;
    }
    return membership;
  });
}
