/**
 * One ingestion job as the console shows it, kept live: while it runs, the `ingestionProgress`
 * subscription (graphql-ws to this page's own server) brings its state and each input's
 * outcome; `after: 0` replays every outcome recorded so far, so a job picked up from the
 * history after a reload shows all of its inputs too. The subscription ends with the job.
 */
import { useEffect, useRef, useState } from 'react';
import { ConsoleJobProgressDocument, type ConsoleJobInputFragment, type ConsoleJobProgressFragment } from '../../../../sdk/index.js';
import { useSession } from '../../session.js';

export interface JobView {
  id: string;
  createdAt: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  /** What was sent, for a job started on this page (its inputs are known once settled). */
  names?: string[];
  progress: ConsoleJobProgressFragment;
  inputs: ConsoleJobInputFragment[];
  /** The last input bytes per second seen while it ran (the API says none once it has ended). */
  bytesPerSecond?: number | null;
  /** Counts the card's cancels and retries: a new value starts the card (and its subscription) afresh. */
  generation?: number;
}

export const ENDED_STATUSES = ['COMPLETED', 'COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED'];

export function hasEnded(job: JobView): boolean {
  return ENDED_STATUSES.includes(job.progress.status);
}

/** The job, updated as its progress arrives; `onEnded` once when it ends here. */
export function useLiveJob(initial: JobView, onEnded: (job: JobView) => void): { job: JobView; failure: unknown; dismissFailure: () => void } {
  const { call } = useSession();
  const [job, setJob] = useState(initial);
  const [failure, setFailure] = useState<unknown>();
  const latest = useRef(initial);
  const ended = useRef(onEnded);
  ended.current = onEnded;
  const running = !hasEnded(initial);

  useEffect(() => {
    if (!running) return;
    let stopped = false;
    let iterator: AsyncIterableIterator<{ ingestionProgress: ConsoleJobProgressFragment & { documents: ConsoleJobInputFragment[] } }> | undefined;
    void call(async (client) => {
      iterator = client.subscribe(ConsoleJobProgressDocument, { jobId: initial.id, after: 0 });
      for await (const { ingestionProgress: update } of iterator) {
        if (stopped) break;
        const { documents, ...progress } = update;
        const shown = latest.current;
        const inputs = new Map(shown.inputs.map((input) => [input.index, input]));
        for (const input of documents) inputs.set(input.index, input);
        const next: JobView = {
          ...shown,
          progress,
          inputs: [...inputs.values()].sort((a, b) => a.index - b.index),
          bytesPerSecond: progress.bytesPerSecond ?? shown.bytesPerSecond,
        };
        latest.current = next;
        setJob(next);
        if (ENDED_STATUSES.includes(progress.status)) ended.current(next);
      }
    }).catch((error: unknown) => {
      if (!stopped) setFailure(error);
    });
    return () => {
      stopped = true;
      void iterator?.return?.();
    };
  }, [call, initial.id, running]);

  return { job, failure, dismissFailure: () => setFailure(undefined) };
}
