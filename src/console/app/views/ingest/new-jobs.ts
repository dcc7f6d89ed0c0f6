/**
 * Jobs started elsewhere while a dataset's page is open (the CLI, the API, another tab): the
 * `datasetIngestion` subscription sends every change of every job of the dataset; an id the
 * panel does not show yet calls `onNewJob`, which reads the newest jobs again (ingest-panel.tsx).
 * Only ids are asked for: each card follows its own job (live-job.ts). The server scopes the
 * feed to the caller's tenant and refuses a dataset it cannot see.
 */
import { useEffect, useRef, useState } from 'react';
import { ConsoleDatasetJobsDocument } from '../../../../sdk/index.js';
import { useSession } from '../../session.js';

/** Follows the dataset's jobs while mounted; the failure, if the feed was lost. */
export function useNewJobs(datasetId: string, shown: (jobId: string) => boolean, onNewJob: () => Promise<void>): { failure: unknown; dismissFailure: () => void } {
  const { call } = useSession();
  const [failure, setFailure] = useState<unknown>();
  const isShown = useRef(shown);
  isShown.current = shown;
  const readNew = useRef(onNewJob);
  readNew.current = onNewJob;

  useEffect(() => {
    let stopped = false;
    let iterator: AsyncIterableIterator<{ datasetIngestion: { jobId: string } }> | undefined;
    // A burst of changes (a job's first events, several jobs at once) reads the list once more, not once each.
    let reading: Promise<void> | undefined;
    let again = false;
    // Each id reads once: a job that is not in the newest page (an old one still running) would
    // otherwise read the list again at each of its changes.
    const asked = new Set<string>();
    const read = async () => {
      if (reading) {
        again = true;
        return;
      }
      do {
        again = false;
        reading = readNew.current();
        await reading;
      } while (again && !stopped);
      reading = undefined;
    };
    void call(async (client) => {
      iterator = client.subscribe(ConsoleDatasetJobsDocument, { datasetId });
      for await (const { datasetIngestion } of iterator) {
        if (stopped) break;
        const { jobId } = datasetIngestion;
        if (isShown.current(jobId) || asked.has(jobId)) continue;
        asked.add(jobId);
        void read();
      }
    }).catch((error: unknown) => {
      if (!stopped) setFailure(error);
    });
    return () => {
      stopped = true;
      void iterator?.return?.();
    };
  }, [call, datasetId]);

  return { failure, dismissFailure: () => setFailure(undefined) };
}
