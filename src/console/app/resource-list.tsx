/**
 * A list of a tenant's things as every console view shows one: a spinner until the first page
 * arrives (none after a failure: the view's ErrorAlert says why), the view's own empty state when
 * there is nothing, otherwise its rows, then "Load more" while the connection has more pages.
 * The view keeps what is its own: the columns, each row, the actions and the forms.
 */
import type { ReactNode } from 'react';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Spinner from 'react-bootstrap/Spinner';
import Table from 'react-bootstrap/Table';

export interface ResourceListProps<T> {
  /** A usePagedList, or rows read otherwise (undefined until they arrive). */
  list: { rows: T[] | undefined; loadMore?: () => void };
  /** The view's failure (useFailure): while there is one, no spinner turns forever. */
  failure: unknown;
  /** What the spinner says to a screen reader: "Loading keys". */
  loadingLabel: string;
  /** What an empty list says (an EmptyState); none: the rows are shown even when empty. */
  empty?: ReactNode;
  /** @default 'Load more' */
  loadMoreLabel?: string;
  /** @default 'mb-4' */
  loadMoreClassName?: string;
  /** The rows as the view shows them: a ResourceTable, or a list of cards. */
  children: (rows: T[]) => ReactNode;
}

export function ResourceList<T>({ list: { rows, loadMore }, failure, loadingLabel, empty, loadMoreLabel = 'Load more', loadMoreClassName = 'mb-4', children }: ResourceListProps<T>) {
  return (
    <>
      {rows === undefined ? (
        failure !== undefined ? null : (
          <Spinner animation="border" role="status" size="sm">
            <span className="visually-hidden">{loadingLabel}</span>
          </Spinner>
        )
      ) : rows.length === 0 && empty ? (
        empty
      ) : (
        children(rows)
      )}
      {loadMore ? (
        <Button variant="outline-secondary" className={loadMoreClassName} onClick={loadMore}>
          {loadMoreLabel}
        </Button>
      ) : null}
    </>
  );
}

/** What an empty list says, in a card with an id (tests find it by that) and what to do next. */
export function EmptyState({ id, className = 'mb-4', children }: { id: string; className?: string; children: ReactNode }) {
  return (
    <Card body className={`empty-state ${className}`} id={id}>
      {children}
    </Card>
  );
}

/** A column's header: its text, and a class (`text-end` for numbers); `hidden`: said only to screen readers (the actions column). */
export type Column = string | { label: string; className?: string; hidden?: boolean };

/** The table of a ResourceList: its id (tests and styles find it by that), a caption for screen readers, the headers. */
export function ResourceTable({ id, caption, columns, className = 'mb-2', hover, children }: { id: string; caption: ReactNode; columns: Column[]; className?: string; hover?: boolean; children: ReactNode }) {
  return (
    <Table responsive hover={hover} className={className} id={id}>
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column) => {
            const { label, className: headerClass, hidden } = typeof column === 'string' ? { label: column } : column;
            return (
              <th key={label} scope="col" className={headerClass}>
                {hidden ? <span className="visually-hidden">{label}</span> : label}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </Table>
  );
}

/** The last column of a table whose rows have buttons. */
export const ACTIONS: Column = { label: 'Actions', hidden: true };
