/**
 * A dataset's documents: 50 at a time, searched by title; one deleted (after asking), or
 * re-ingested from a file the user chooses, sent under the document's own name (its source
 * key) so it replaces that document rather than adding another. Each action is offered only
 * to a caller who may run it (may.ts); the others read and search the table.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Form from 'react-bootstrap/Form';
import InputGroup from 'react-bootstrap/InputGroup';
import Modal from 'react-bootstrap/Modal';
import Table from 'react-bootstrap/Table';
import { ConsoleDocumentsDocument, ConsoleIngestFilesDocument, DeleteDocumentDocument, type ConsoleDocumentsQuery } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatBytes, formatWhen } from '../../format.js';
import { mayRun } from '../../may.js';
import { useSession } from '../../session.js';
import { replacementFor } from './chosen-files.js';

type DocumentRow = NonNullable<ConsoleDocumentsQuery['dataset']>['documents']['edges'][number]['node'];

const PAGE = 50;

export function DocumentsPanel({
  slug,
  datasetName,
  refreshKey,
  onDeleted,
  onReingest,
}: {
  slug: string;
  datasetName: string;
  /** Changes when the documents may have changed (a job ended). */
  refreshKey: number;
  onDeleted: () => void;
  onReingest: (file: File) => void;
}) {
  const { call, may } = useSession();
  const mayDelete = mayRun(may, DeleteDocumentDocument);
  const mayReingest = mayRun(may, ConsoleIngestFilesDocument);
  const [documents, setDocuments] = useState<DocumentRow[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [searched, setSearched] = useState('');
  const [deleting, setDeleting] = useState<DocumentRow | undefined>();
  const [failure, fail, dismiss] = useFailure();
  const replacement = useRef<HTMLInputElement>(null);
  const reingesting = useRef<DocumentRow | undefined>(undefined);

  const load = useCallback(
    async (after?: string) => {
      try {
        const { dataset } = await call((client) => client.query(ConsoleDocumentsDocument, { slug, first: PAGE, after, titleContains: searched || undefined }));
        const rows = dataset?.documents.edges.map((edge) => edge.node) ?? [];
        setDocuments((shown) => (after ? [...(shown ?? []), ...rows] : rows));
        setNext(dataset?.documents.pageInfo.hasNextPage ? (dataset.documents.pageInfo.endCursor ?? null) : null);
      } catch (error) {
        fail(error);
      }
    },
    [call, fail, slug, searched],
  );
  useEffect(() => void load(), [load, refreshKey]);

  const remove = async (document: DocumentRow) => {
    try {
      await call((client) => client.mutate(DeleteDocumentDocument, { id: document.id }));
      setDocuments((shown) => shown?.filter((row) => row.id !== document.id));
      onDeleted();
    } catch (error) {
      fail(error);
    } finally {
      setDeleting(undefined);
    }
  };

  const chooseReplacement = (document: DocumentRow) => {
    reingesting.current = document;
    replacement.current?.click();
  };
  const replacementChosen = (input: HTMLInputElement) => {
    const file = input.files?.[0];
    input.value = '';
    if (file && reingesting.current) onReingest(replacementFor(file, reingesting.current));
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSearched(search.trim());
  };

  return (
    <section aria-labelledby="documents-title" className="mt-4">
      <h2 className="h5" id="documents-title">
        Documents
      </h2>
      <Form onSubmit={submit} className="filter-form mb-2" role="search">
        <Form.Label htmlFor="document-search" className="visually-hidden">
          Search documents by title
        </Form.Label>
        <InputGroup>
          <Form.Control id="document-search" type="search" placeholder="Search by title" value={search} maxLength={200} onChange={(event) => setSearch(event.target.value)} />
          <Button type="submit" variant="outline-secondary">
            Search
          </Button>
        </InputGroup>
      </Form>
      <ErrorAlert error={failure} onDismiss={dismiss} title="That did not work" />
      {documents === undefined ? null : documents.length === 0 ? (
        <Card body className="empty-state" id="documents-empty">
          {searched ? (
            <>
              <strong>No document’s title contains “{searched}”.</strong> Try another part of the title, or clear the search.
            </>
          ) : (
            <>
              <strong>No documents yet.</strong>{' '}
              {mayReingest ? (
                <>
                  Drop or choose files under <a href="#ingest">Ingest files</a> below; the CLI and the SDK ingest too.
                </>
              ) : (
                'A member of the tenant ingests them.'
              )}
            </>
          )}
        </Card>
      ) : (
        <Table responsive hover id="documents-table">
          <caption className="visually-hidden">Documents of {datasetName}</caption>
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Source</th>
              <th scope="col">Type</th>
              <th scope="col" className="text-end">Size</th>
              <th scope="col" className="text-end">Chunks</th>
              <th scope="col">Added</th>
              {mayDelete || mayReingest ? (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {documents.map((document) => (
              <tr key={document.id} data-source-key={document.sourceKey}>
                <td>{document.title}</td>
                <td className="text-break">{document.sourceKey}</td>
                <td>{document.mimeType}</td>
                <td className="text-end">{formatBytes(document.bytes)}</td>
                <td className="text-end">{document.chunkCount}</td>
                <td>{formatWhen(document.createdAt)}</td>
                {mayDelete || mayReingest ? (
                  <td className="text-nowrap">
                    {mayReingest ? (
                      <Button size="sm" variant="outline-secondary" className="me-1" onClick={() => chooseReplacement(document)} aria-label={`Re-ingest ${document.title} from a file`}>
                        Re-ingest…
                      </Button>
                    ) : null}
                    {mayDelete ? (
                      <Button size="sm" variant="outline-danger" onClick={() => setDeleting(document)} aria-label={`Delete ${document.title}`}>
                        Delete
                      </Button>
                    ) : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {next ? (
        <Button variant="outline-secondary" onClick={() => void load(next)}>
          Load more
        </Button>
      ) : null}
      {mayReingest ? (
        <input ref={replacement} id="reingest-file" type="file" hidden aria-label="The file to re-ingest the document from" onChange={(event) => replacementChosen(event.currentTarget)} />
      ) : null}

      <Modal show={deleting !== undefined} onHide={() => setDeleting(undefined)} aria-labelledby="delete-document-title">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="delete-document-title" as="h2" className="h5">
            Delete “{deleting?.title}”?
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          Its {deleting?.chunkCount} chunks are deleted with it, and endpoints that answer from this dataset stop finding them. Ingesting{' '}
          <code>{deleting?.sourceKey}</code> again brings it back.
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={() => setDeleting(undefined)}>
            Keep it
          </Button>
          <Button variant="danger" onClick={() => deleting && void remove(deleting)}>
            Delete
          </Button>
        </Modal.Footer>
      </Modal>
    </section>
  );
}
