/**
 * The shared readers behind progress subscriptions: one per tenant and job, one per tenant and
 * dataset, however many subscribers listen (platform/subscriptions/topic-readers.ts). Each
 * holds the topic's one bus subscription and fans its events out; when the topic has heard
 * nothing for a poll interval (or a subscriber has missed an event) it reads the database
 * once, in the tenant's scope, for all of them.
 */
import type { TopicSource } from '../../platform/subscriptions/topic-readers.js';
import { toUpdate, type DocumentOutcome, type JobSnapshot, type ProgressBus, type ProgressEvent, type ProgressUpdate } from './progress.js';

/** Reads of one tenant, each in a short transaction of its own. */
export interface ProgressSource {
  /** False once the subscriber's scope has ended: its reads are refused from then on. */
  readonly open: boolean;
  job(jobId: string): Promise<JobSnapshot | null>;
  outcomesAfter(jobId: string, sequence: number): Promise<DocumentOutcome[]>;
  /** The dataset's jobs that are running or changed after `since`. */
  datasetJobs(datasetId: string, since: Date): Promise<JobSnapshot[]>;
}

/** A subscriber of one job, as its topic sees it. */
export interface JobListener {
  /** Reads in the subscriber's tenant (every listener of a topic has the same one). */
  source: ProgressSource;
  /** The last sequence the subscriber was sent. */
  seen(): number;
  deliver(update: ProgressUpdate): void;
  /** The job no longer exists (deleted with its dataset). */
  gone(): void;
}

/** A subscriber of one dataset: it keeps which sequence of each job it has seen. */
export interface DatasetListener {
  source: ProgressSource;
  offer(snapshot: JobSnapshot, outcomes: DocumentOutcome[]): void;
}

/**
 * The source a shared read uses: any listener's reads the tenant's rows alike, but one whose
 * subscription is ending may already have had its scope closed before it leaves the topic.
 */
function sourceOf(listeners: readonly { source: ProgressSource }[]): ProgressSource {
  return (listeners.find((listener) => listener.source.open) ?? listeners[0]!).source;
}

interface Topic<L> {
  wake(): void;
  listeners(): readonly L[];
}

export function jobTopic(bus: ProgressBus, tenantId: string, jobId: string, topic: Topic<JobListener>): TopicSource<JobListener> {
  return busTopic(
    bus.listen({ jobId }),
    tenantId,
    (event) => {
      let behind = false;
      for (const listener of topic.listeners()) {
        const seen = listener.seen();
        if (event.snapshot.sequence <= seen) continue;
        if (event.previousSequence <= seen) listener.deliver(toUpdate(event.snapshot, event.outcomes.filter((outcome) => outcome.sequence > seen)));
        else behind = true;
      }
      // Someone missed an event: one read catches every such listener up.
      if (behind) topic.wake();
    },
    async (listeners) => {
      const source = sourceOf(listeners);
      const snapshot = await source.job(jobId);
      if (!snapshot) {
        for (const listener of listeners) listener.gone();
        return;
      }
      const behind = listeners.filter((listener) => listener.seen() < snapshot.sequence);
      if (behind.length === 0) return;
      const from = Math.min(...behind.map((listener) => listener.seen()));
      // Outcomes recorded after the snapshot was read come with the next change, not twice.
      const outcomes = (await source.outcomesAfter(jobId, from)).filter((outcome) => outcome.sequence <= snapshot.sequence);
      for (const listener of behind) {
        const seen = listener.seen();
        if (seen < snapshot.sequence) listener.deliver(toUpdate(snapshot, outcomes.filter((outcome) => outcome.sequence > seen)));
      }
    },
  );
}

export function datasetTopic(bus: ProgressBus, tenantId: string, datasetId: string, pollMs: number, topic: Topic<DatasetListener>): TopicSource<DatasetListener> {
  let since = new Date();
  return busTopic(
    bus.listen({ datasetId }),
    tenantId,
    (event) => {
      for (const listener of topic.listeners()) listener.offer(event.snapshot, event.outcomes);
    },
    async (listeners) => {
      const polledAt = new Date();
      // One interval of overlap: a job changed while the previous read ran is not missed.
      const snapshots = await sourceOf(listeners).datasetJobs(datasetId, new Date(since.getTime() - pollMs));
      since = polledAt;
      for (const snapshot of snapshots) for (const listener of listeners) listener.offer(snapshot, []);
    },
  );
}

/**
 * A topic fed by the tenant's events on the bus: `onEvent` runs for each one until the topic
 * closes, and `readDatabase` runs when woken, or on the interval only if nothing was heard
 * since the last read (an event heard brought what a timed read would).
 */
function busTopic<L>(
  events: AsyncIterableIterator<ProgressEvent>,
  tenantId: string,
  onEvent: (event: ProgressEvent) => void,
  readDatabase: (listeners: readonly L[]) => Promise<void>,
): TopicSource<L> {
  let heard = false;
  void (async () => {
    for await (const event of events) {
      // Ids are unique across tenants; this check keeps a topic to its tenant even if not.
      if (event.snapshot.tenantId !== tenantId) continue;
      heard = true;
      onEvent(event);
    }
  })().catch(() => undefined);
  return {
    async read(listeners, cause) {
      const quiet = !heard;
      heard = false;
      if (cause === 'interval' && !quiet) return;
      await readDatabase(listeners);
    },
    close: () => void events.return?.(),
  };
}
