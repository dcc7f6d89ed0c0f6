/**
 * The dataset's own changes while its page is open, made anywhere (the API, the CLI, another
 * tab): the `datasetChanges` subscription sends its settings now and after each change. Its
 * embeddings model cleared elsewhere starts no job, so the job feed (ingest/new-jobs.ts) never
 * hears of it; this does. The server scopes the feed to the caller's tenant, refuses a dataset
 * it cannot see, and ends the feed when the dataset is deleted.
 */
import { useEffect, useRef, useState } from 'react';
import { ConsoleDatasetChangesDocument, type ConsoleDatasetChangesSubscription } from '../../../sdk/index.js';
import { useSession } from '../session.js';

export type DatasetChange = ConsoleDatasetChangesSubscription['datasetChanges'];

export interface DatasetChangeHandlers {
  /** The dataset changed since the page read it (`updatedAt` as the page read it). */
  onChange: (change: DatasetChange) => void;
  /** The feed ended: the dataset was deleted. */
  onGone: () => void;
}

/** Follows the dataset while mounted; the failure, if the feed was lost. */
export function useDatasetChanges(datasetId: string | undefined, readAt: string | undefined, handlers: DatasetChangeHandlers): { failure: unknown; dismissFailure: () => void } {
  const { call } = useSession();
  const [failure, setFailure] = useState<unknown>();
  const latest = useRef(handlers);
  latest.current = handlers;
  // As the page last read it: the first event (the dataset now) is a change only if it differs.
  const pageRead = useRef(readAt);
  pageRead.current = readAt;

  useEffect(() => {
    if (!datasetId) return;
    let stopped = false;
    let iterator: AsyncIterableIterator<ConsoleDatasetChangesSubscription> | undefined;
    void call(async (client) => {
      iterator = client.subscribe(ConsoleDatasetChangesDocument, { datasetId });
      let first = true;
      for await (const { datasetChanges } of iterator) {
        if (stopped) return;
        // A change between the page's read and the feed's start is not missed: it shows in the first event.
        if (!first || datasetChanges.updatedAt !== pageRead.current) latest.current.onChange(datasetChanges);
        first = false;
      }
      if (!stopped) latest.current.onGone();
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
