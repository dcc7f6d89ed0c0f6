/**
 * Jobs started elsewhere while a dataset's page is open (the CLI, the API, another tab): the
 * `datasetIngestion` subscription sends every change of every job of the dataset; an id the
 * panel does not show yet is read by id and handed to `onNewJob`, so it appears whatever the
 * panel lists: reading the newest page again would miss a job of a burst larger than the page,
 * or one older than the page that is still running. The ids of a burst are read together
 * (`nodes(ids:)`, up to BATCH a request): the first waits a frame for the rest, and those heard
 * while a read is on its way go in the next one, so twelve jobs started at once cost a request
 * or two, not twelve. Only ids and kinds
 * are asked for: each card follows its own job (live-job.ts). A REEMBED job not seen before
 * (and not listed by the panel when the page opened) means the dataset's embeddings model
 * changed (or its vectors are being completed):
 * `onReembed` lets the page read its Embeddings again. The server scopes the feed to the
 * caller's tenant and refuses a dataset it cannot see.
 */
import { useEffect, useRef, useState } from 'react';
import { ConsoleDatasetJobsDocument, ConsoleIngestionJobsByIdsDocument, type ConsoleIngestionJobsByIdsQuery } from '../../../../sdk/index.js';
import { useSession } from '../../session.js';
import type { JobView } from './live-job.js';

/**
 * Jobs read in one request: a job's inputs weigh up to 100 in the operation's cost (about
 * 1 100 a job), so 20 stay well under the server's default SLUICE_MAX_COST (50 000); the
 * `nodes` list itself takes up to 100.
 */
const BATCH = 20;
/** How long the first id of a burst waits for the rest: the feed's events arrive as separate socket messages (a microtask would flush after each). */
const BURST_MS = 16;

export interface NewJobsHandlers {
  /** Whether the panel shows the job already. */
  shown: (jobId: string) => boolean;
  /** A job the panel did not show, as the API has it now. */
  onNewJob: (job: JobView) => void;
  /** The first change seen of a REEMBED job. */
  onReembed?: () => void;
}

type JobNode = Extract<ConsoleIngestionJobsByIdsQuery['nodes'][number], { id: string }>;

/** A job read by id (not null, not some other node an id named). */
function isJob(node: ConsoleIngestionJobsByIdsQuery['nodes'][number]): node is JobNode {
  return node !== null && 'id' in node;
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
    const queued: string[] = [];
    let reading = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // One read at a time: ids heard meanwhile wait for it and go together in the next.
    const readQueued = async () => {
      timer = undefined;
      if (reading) return;
      reading = true;
      try {
        while (queued.length > 0 && !stopped) {
          const ids = queued.splice(0, BATCH);
          try {
            const { nodes } = await call((client) => client.query(ConsoleIngestionJobsByIdsDocument, { ids }));
            if (stopped) return;
            // null: a job deleted since (with its dataset), or not this tenant's.
            for (const job of nodes) if (isJob(job)) latest.current.onNewJob({ ...job, inputs: job.documents });
          } catch (error) {
            if (!stopped) setFailure(error);
          }
        }
      } finally {
        reading = false;
      }
    };
    const readJob = (jobId: string) => {
      queued.push(jobId);
      if (!reading && timer === undefined) timer = setTimeout(() => void readQueued(), BURST_MS);
    };
    void call(async (client) => {
      iterator = client.subscribe(ConsoleDatasetJobsDocument, { datasetId });
      for await (const { datasetIngestion } of iterator) {
        if (stopped) break;
        const { jobId, kind } = datasetIngestion;
        // A REEMBED job the panel already shows was known when the page read its Embeddings: the
        // feed also brings changes of jobs that ended before the page opened, and reading again
        // for one of those (every time, a moment after the page loaded) was waste.
        if (kind === 'REEMBED' && !reembeds.has(jobId)) {
          reembeds.add(jobId);
          if (!latest.current.shown(jobId)) latest.current.onReembed?.();
        }
        if (latest.current.shown(jobId) || asked.has(jobId)) continue;
        asked.add(jobId);
        readJob(jobId);
      }
    }).catch((error: unknown) => {
      if (!stopped) setFailure(error);
    });
    return () => {
      stopped = true;
      clearTimeout(timer);
      void iterator?.return?.();
    };
  }, [call, datasetId]);

  return { failure, dismissFailure: () => setFailure(undefined) };
}
