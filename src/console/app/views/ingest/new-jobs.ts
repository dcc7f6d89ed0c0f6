/**
 * Jobs started elsewhere while a dataset's page is open (the CLI, the API, another tab): the
 * `datasetIngestion` subscription sends every change of every job of the dataset; an id the
 * panel does not show yet is read by id (`ingestionJob`) and handed to `onNewJob`, so it
 * appears whatever the panel lists: reading the newest page again would miss a job of a burst
 * larger than the page, or one older than the page that is still running. Only ids and kinds
 * are asked for: each card follows its own job (live-job.ts). A REEMBED job not seen before
 * means the dataset's embeddings model changed (or its vectors are being completed):
 * `onReembed` lets the page read its Embeddings again. The server scopes the feed to the
 * caller's tenant and refuses a dataset it cannot see.
 */
import { useEffect, useRef, useState } from 'react';
import { ConsoleDatasetJobsDocument, ConsoleIngestionJobDocument } from '../../../../sdk/index.js';
import { useSession } from '../../session.js';
import type { JobView } from './live-job.js';

export interface NewJobsHandlers {
  /** Whether the panel shows the job already. */
  shown: (jobId: string) => boolean;
  /** A job the panel did not show, as the API has it now. */
  onNewJob: (job: JobView) => void;
  /** The first change seen of a REEMBED job. */
  onReembed?: () => void;
}

/** Follows the dataset's jobs while mounted; the failure, if the feed (or a job read from it) was lost. */
export function useNewJobs(datasetId: string, handlers: NewJobsHandlers): { failure: unknown; dismissFailure: () => void } {
  const { call } = useSession();
  const [failure, setFailure] = useState<unknown>();
  // The latest handlers, without restarting the subscription when they change.
  const latest = useRef(handlers);
  latest.current = handlers;

  useEffect(() => {
    let stopped = false;
    let iterator: AsyncIterableIterator<{ datasetIngestion: { jobId: string; kind: string } }> | undefined;
    // Each id is read once (a job sends many changes; its card follows the rest itself).
    const asked = new Set<string>();
    const reembeds = new Set<string>();
    const readJob = async (jobId: string) => {
      try {
        const { ingestionJob } = await call((client) => client.query(ConsoleIngestionJobDocument, { id: jobId }));
        if (stopped || !ingestionJob) return;
        latest.current.onNewJob({ ...ingestionJob, inputs: ingestionJob.documents });
      } catch (error) {
        if (!stopped) setFailure(error);
      }
    };
    void call(async (client) => {
      iterator = client.subscribe(ConsoleDatasetJobsDocument, { datasetId });
      for await (const { datasetIngestion } of iterator) {
        if (stopped) break;
        const { jobId, kind } = datasetIngestion;
        if (kind === 'REEMBED' && !reembeds.has(jobId)) {
          reembeds.add(jobId);
          latest.current.onReembed?.();
        }
        if (latest.current.shown(jobId) || asked.has(jobId)) continue;
        asked.add(jobId);
        void readJob(jobId);
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
