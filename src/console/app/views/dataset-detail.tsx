/**
 * One dataset: what it holds (documents, chunks, size, language), its documents (load more),
 * its settings, and deleting it, which asks first.
 */
import { useCallback, useEffect, useState } from 'react';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Modal from 'react-bootstrap/Modal';
import Spinner from 'react-bootstrap/Spinner';
import Table from 'react-bootstrap/Table';
import { Link, useNavigate, useParams } from 'react-router';
import { DatasetDocument, DeleteDatasetDocument, type DatasetQuery } from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { formatBytes, formatWhen } from '../format.js';
import { useSession } from '../session.js';
import { DatasetSettings } from './dataset-settings.js';

type Dataset = NonNullable<DatasetQuery['dataset']>;
type DocumentRow = Dataset['documents']['edges'][number]['node'];

const PAGE = 50;

export function DatasetDetail() {
  const { slug = '' } = useParams();
  const { call } = useSession();
  const navigate = useNavigate();
  const [dataset, setDataset] = useState<Dataset | null | undefined>();
  const [documents, setDocuments] = useState<DocumentRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [failure, fail, dismiss] = useFailure();

  const load = useCallback(
    async (after?: string) => {
      try {
        const { dataset: found } = await call((client) => client.query(DatasetDocument, { slug, first: PAGE, after }));
        setDataset(found);
        const rows = found?.documents.edges.map((edge) => edge.node) ?? [];
        setDocuments((shown) => (after ? [...shown, ...rows] : rows));
        setNext(found?.documents.pageInfo.hasNextPage ? (found.documents.pageInfo.endCursor ?? null) : null);
      } catch (error) {
        fail(error);
      }
    },
    [call, fail, slug],
  );
  useEffect(() => void load(), [load]);

  const remove = async () => {
    if (!dataset) return;
    try {
      await call((client) => client.mutate(DeleteDatasetDocument, { id: dataset.id }));
      navigate('/datasets');
    } catch (error) {
      setConfirming(false);
      fail(error);
    }
  };

  const back = (
    <p className="mb-2">
      <Link to="/datasets">← Datasets</Link>
    </p>
  );
  if (dataset === null)
    return (
      <>
        {back}
        <h1 className="h3">No dataset “{slug}”</h1>
        <p>This tenant has no dataset with that slug: it may have been deleted.</p>
      </>
    );
  if (dataset === undefined)
    return (
      <>
        {back}
        <ErrorAlert error={failure} onDismiss={dismiss} />
        {failure === undefined ? <Spinner animation="border" role="status" size="sm"><span className="visually-hidden">Loading the dataset</span></Spinner> : null}
      </>
    );

  return (
    <>
      {back}
      <div className="d-flex flex-wrap align-items-baseline gap-2 mb-2">
        <h1 className="h3 me-auto mb-0">{dataset.name}</h1>
        <Button variant="outline-danger" size="sm" onClick={() => setConfirming(true)}>
          Delete dataset
        </Button>
      </div>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      {dataset.description ? <p>{dataset.description}</p> : null}
      <dl className="facts" id="dataset-facts">
        <div><dt>Slug</dt><dd><code>{dataset.slug}</code></dd></div>
        <div><dt>Documents</dt><dd data-field="documents">{dataset.documentCount}</dd></div>
        <div><dt>Chunks</dt><dd data-field="chunks">{dataset.chunkCount}</dd></div>
        <div><dt>Size</dt><dd>{formatBytes(dataset.bytes)}</dd></div>
        <div><dt>Language</dt><dd>{dataset.language}</dd></div>
        <div><dt>Created</dt><dd>{formatWhen(dataset.createdAt)}</dd></div>
        <div><dt>Last ingested</dt><dd>{formatWhen(dataset.lastIngestedAt) ?? 'never'}</dd></div>
      </dl>

      <h2 className="h5 mt-4">Documents</h2>
      {documents.length === 0 ? (
        <Card body className="empty-state" id="documents-empty">
          <strong>No documents yet.</strong> Ingest files into this dataset from the{' '}
          <a href="/console/classic/">classic console</a> (drop files, watch their progress), the CLI or the SDK.
        </Card>
      ) : (
        <Table responsive hover id="documents-table">
          <caption className="visually-hidden">Documents of {dataset.name}</caption>
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Source</th>
              <th scope="col">Type</th>
              <th scope="col" className="text-end">Size</th>
              <th scope="col" className="text-end">Chunks</th>
              <th scope="col">Added</th>
            </tr>
          </thead>
          <tbody>
            {documents.map((document) => (
              <tr key={document.id}>
                <td>{document.title}</td>
                <td className="text-break">{document.sourceKey}</td>
                <td>{document.mimeType}</td>
                <td className="text-end">{formatBytes(document.bytes)}</td>
                <td className="text-end">{document.chunkCount}</td>
                <td>{formatWhen(document.createdAt)}</td>
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

      <DatasetSettings
        dataset={dataset}
        onSaved={(saved) => {
          setDataset({ ...dataset, ...saved });
          if (saved.slug !== dataset.slug) navigate(`/datasets/${encodeURIComponent(saved.slug)}`, { replace: true });
        }}
      />

      <Modal show={confirming} onHide={() => setConfirming(false)} aria-labelledby="delete-dataset-title">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="delete-dataset-title" as="h2" className="h5">
            Delete “{dataset.name}”?
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          Its {dataset.documentCount} documents and {dataset.chunkCount} chunks are deleted with it. Endpoints that answer from it stop finding them. This cannot be undone.
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </Button>
          <Button variant="danger" onClick={() => void remove()}>
            Delete
          </Button>
        </Modal.Footer>
      </Modal>
    </>
  );
}
