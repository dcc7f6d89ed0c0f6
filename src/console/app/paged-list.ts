/**
 * A list the console reads from a `first/after` connection one page at a time: the first page
 * on arrival (and again whenever the way to fetch it changes, as a filter does), the next one
 * on "Load more", and the first one again after a change, which replaces what was shown.
 */
import { useCallback, useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import { nextCursor, type ConnectionPage } from './every-page.js';

/** One page of the connection, after `after` (undefined: the first page); undefined when there is none to show (no tenant). */
export type FetchPage<T> = (after: string | undefined) => Promise<ConnectionPage<T> | undefined>;

export interface PagedList<T> {
  /** The rows shown; undefined until the first page has arrived. */
  rows: T[] | undefined;
  /** Fetches and appends the next page; undefined when the last page is shown. */
  loadMore: (() => void) | undefined;
  /** Fetches the first page again, replacing what is shown: after a change. */
  reload: () => Promise<void>;
  /** Shows `page` as the first page: a page that came with another query (undefined: none). */
  show: (page: ConnectionPage<T> | undefined) => void;
  /** Changes a shown row without asking the server again (one updated or deleted). */
  setRows: Dispatch<SetStateAction<T[] | undefined>>;
}

/**
 * `fetchPage` must keep its identity (`useCallback`) while the list stays the same list: a new
 * one reads the first page again. Failures go to `fail` (the view's ErrorAlert).
 */
export function usePagedList<T>(fetchPage: FetchPage<T>, fail: (error: unknown) => void, { loadFirstPage = true }: { loadFirstPage?: boolean } = {}): PagedList<T> {
  const [rows, setRows] = useState<T[] | undefined>();
  const [next, setNext] = useState<string | undefined>();
  // A page asked for with an older fetchPage (the filter typed before the last key) is dropped.
  const current = useRef(fetchPage);
  current.current = fetchPage;

  const show = useCallback((page: ConnectionPage<T> | undefined, after?: string) => {
    const nodes = page?.edges.map((edge) => edge.node) ?? [];
    setRows((shown) => (after ? [...(shown ?? []), ...nodes] : nodes));
    setNext(page ? nextCursor(page) : undefined);
  }, []);

  const load = useCallback(
    async (after?: string) => {
      try {
        const page = await fetchPage(after);
        if (current.current !== fetchPage) return;
        show(page, after);
      } catch (error) {
        fail(error);
      }
    },
    [fetchPage, fail, show],
  );
  useEffect(() => {
    if (loadFirstPage) void load();
  }, [load, loadFirstPage]);

  const reload = useCallback(() => load(), [load]);
  const showFirst = useCallback((page: ConnectionPage<T> | undefined) => show(page), [show]);
  return { rows, loadMore: next ? () => void load(next) : undefined, reload, show: showFirst, setRows };
}
