/**
 * One dataset: what it holds (documents, chunks, size, language), its documents (searched,
 * deleted, re-ingested: ingest/documents-panel.tsx), ingesting files with the job history
 * (ingest/ingest-panel.tsx), its settings, and deleting it, which asks first. Each change is
 * offered only to a caller who may make it (may.ts): the others read the same page without them.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import Button from 'react-bootstrap/Button';
import Modal from 'react-bootstrap/Modal';
import Spinner from 'react-bootstrap/Spinner';
import { Link, useNavigate, useParams } from 'react-router';
import { DatasetDocument, DeleteDatasetDocument, type DatasetQuery } from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { formatBytes, formatWhen } from '../format.js';
import { mayRun } from '../may.js';
import { DocumentsPanel } from './ingest/documents-panel.js';
import { IngestPanel } from './ingest/ingest-panel.js';
import { useSession } from '../session.js';
import { useDatasetChanges } from './dataset-changes.js';
import { DatasetSettings } from './dataset-settings.js';

type Dataset = NonNullable<DatasetQuery['dataset']>;

export function DatasetDetail() {
  const { slug = '' } = useParams();
  const { call, may } = useSession();
  const navigate = useNavigate();
  const [dataset, setDataset] = useState<Dataset | null | undefined>();
  // Bumped when a job ends: the documents are read again.
  const [changes, setChanges] = useState(0);
  // Bumped when the settings queue a re-embed job: the Jobs panel reads the newest jobs again.
  const [jobsStarted, setJobsStarted] = useState(0);
  // Bumped when the dataset's live feed shows a re-embed job not seen before (its embeddings
  // model changed, here or elsewhere), or the dataset itself changed elsewhere (its model
  // cleared, which starts no job): the Embeddings section reads its state again.
  const [reembeds, setReembeds] = useState(0);
  const ingestRef = useRef<((files: File[]) => void) | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [failure, fail, dismiss] = useFailure();

  // The dataset's facts; its documents are the documents panel's (first: 0 reads none here).
  const load = useCallback(async () => {
    try {
      const { dataset: found } = await call((client) => client.query(DatasetDocument, { slug, first: 0 }));
      setDataset(found);
    } catch (error) {
      fail(error);
    }
  }, [call, fail, slug]);
  useEffect(() => void load(), [load]);
  // Changed elsewhere: its settings as they now stand, and its Embeddings read again.
  const changedElsewhere = useDatasetChanges(dataset?.id, dataset?.updatedAt, {
    onChange: ({ datasetId: _id, embeddingModelId: _model, ...settings }) => {
      setDataset((shown) => (shown ? { ...shown, ...settings } : shown));
      setReembeds((count) => count + 1);
      if (settings.slug !== slug) navigate(`/datasets/${encodeURIComponent(settings.slug)}`, { replace: true });
    },
    onGone: () => void load(),
  });
  const contentChanged = useCallback(() => {
    setChanges((count) => count + 1);
    void load();
  }, [load]);

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
        {mayRun(may, DeleteDatasetDocument) ? (
          <Button variant="outline-danger" size="sm" onClick={() => setConfirming(true)}>
            Delete dataset
          </Button>
        ) : null}
      </div>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      <ErrorAlert error={changedElsewhere.failure} onDismiss={changedElsewhere.dismissFailure} title="Lost the live view of this dataset (changes made elsewhere show on a reload)" />
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

      <DocumentsPanel
        slug={dataset.slug}
        datasetName={dataset.name}
        refreshKey={changes}
        onDeleted={() => void load()}
        onReingest={(file) => ingestRef.current?.([file])}
      />
      <IngestPanel
        datasetId={dataset.id}
        ingestRef={ingestRef}
        onJobEnded={contentChanged}
        refreshKey={jobsStarted}
        onReembed={() => setReembeds((count) => count + 1)}
      />

      <DatasetSettings
        dataset={dataset}
        onJobStarted={() => setJobsStarted((count) => count + 1)}
        // A job that ended changed the vectors too (an ingestion embeds its new chunks).
        embeddingRefreshKey={reembeds + changes}
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
