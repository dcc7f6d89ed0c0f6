/**
 * A dataset's embeddings model: which of the tenant's EMBEDDINGS models embeds its chunks (or
 * none: keyword search only), how many chunks have a vector by it, and whose vectors answer
 * semantic queries meanwhile. A change asks first: another model re-embeds every chunk (a job;
 * queries go on with the old vectors), none deletes the vectors. While chunks are still without
 * a vector and a job of the dataset is queued or running (`inProgress`, read with the counts),
 * the counts are read again every second, so a re-embed job is seen to progress (its job card in
 * the Jobs panel shows its progress and outcome too); with no such job the embedding stopped (its
 * job failed or was cancelled), which is said, and nothing is read until the next job. A change made elsewhere (the
 * API, the CLI, another tab) starts a re-embed job, which the page's live feed of the dataset's
 * jobs sees (ingest/new-jobs.ts); clearing it elsewhere starts no job, but the page's feed of the
 * dataset itself (dataset-changes.ts) hears it: either way `refreshKey` changes and the state is read again.
 * The form to change the model is offered only to a caller who may (DATA_WRITE); the others read the state.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Modal from 'react-bootstrap/Modal';
import {
  ConsoleDatasetEmbeddingDocument,
  ConsoleEmbeddingModelsDocument,
  ConsoleSetDatasetEmbeddingModelDocument,
  type ConsoleDatasetEmbeddingFragment,
} from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { everyPage } from '../every-page.js';
import { mayRun } from '../may.js';
import { useSession } from '../session.js';

const NONE = '';
const POLL_MS = 1000;

export interface EmbeddingModelChoice {
  id: string;
  name: string;
}

/** The tenant's EMBEDDINGS models, every page read; undefined until read. */
export function useEmbeddingModels(fail: (error: unknown) => void): EmbeddingModelChoice[] | undefined {
  const { call } = useSession();
  const [models, setModels] = useState<EmbeddingModelChoice[] | undefined>();
  useEffect(() => {
    call((client) => everyPage((after) => client.query(ConsoleEmbeddingModelsDocument, { after }).then(({ models: page }) => page)))
      .then((nodes) => setModels(nodes.filter((model) => model.kind === 'EMBEDDINGS').map(({ id, name }) => ({ id, name }))))
      .catch(fail);
  }, [call, fail]);
  return models;
}

export function DatasetEmbedding({
  datasetId,
  chunkCount,
  onJobStarted,
  refreshKey = 0,
}: {
  datasetId: string;
  chunkCount: number;
  onJobStarted?: () => void;
  /** A new value reads the state again (a re-embed job was seen: the model may have changed elsewhere). */
  refreshKey?: number;
}) {
  const { call, may } = useSession();
  const change = mayRun(may, ConsoleSetDatasetEmbeddingModelDocument);
  const [failure, fail, dismiss] = useFailure();
  const [embedding, setEmbedding] = useState<ConsoleDatasetEmbeddingFragment | null | undefined>();
  const [chosen, setChosen] = useState(NONE);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  const models = useEmbeddingModels(fail);

  const load = useCallback(async () => {
    const { dataset } = await call((client) => client.query(ConsoleDatasetEmbeddingDocument, { id: datasetId }));
    setEmbedding(dataset?.embedding ?? null);
  }, [call, datasetId]);
  // Read again when the dataset's chunks change (an ingestion ended) or a re-embed job was seen.
  useEffect(() => void load().catch(fail), [load, fail, chunkCount, refreshKey]);
  useEffect(() => setChosen(embedding?.model?.id ?? NONE), [embedding?.model?.id]);

  // Until the chosen model serves: it takes over in a transaction after the last vectors are
  // written, so "every chunk embedded" can be read a moment before it does.
  const unfinished = !!embedding?.model && (embedding.embeddedChunks < embedding.totalChunks || embedding.servingModel?.id !== embedding.model.id);
  // Only a queued or running job moves the counts: without one, reading them again shows nothing new.
  const pending = unfinished && !!embedding?.inProgress;
  const stopped = unfinished && !pending;
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(() => void load().catch(fail), POLL_MS);
    return () => clearTimeout(timer);
  }, [pending, embedding, load, fail]);

  const current = embedding?.model?.id ?? NONE;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (chosen !== current) setConfirming(true);
  };
  const save = async () => {
    setBusy(true);
    try {
      const { updateDataset } = await call((client) =>
        client.mutate(ConsoleSetDatasetEmbeddingModelDocument, { id: datasetId, embeddingModelId: chosen === NONE ? null : chosen }),
      );
      setEmbedding(updateDataset.embedding ?? null);
      // Another model queued a re-embed job: the Jobs panel shows it with its live progress.
      if (chosen !== NONE) onJobStarted?.();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  const chosenName = models?.find((model) => model.id === chosen)?.name;

  return (
    <section aria-labelledby="dataset-embedding-title" className="mt-4 narrow">
      <h2 id="dataset-embedding-title" className="h5">
        Embeddings
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not change the embeddings model" />
      <dl className="facts" id="dataset-embedding">
        <div><dt>Model</dt><dd data-field="model">{embedding === undefined ? '…' : (embedding?.model?.name ?? 'none (keyword search only)')}</dd></div>
        <div>
          <dt>Embedded</dt>
          <dd data-field="embedded" data-state={embedding?.model ? (pending ? 'embedding' : stopped ? 'stopped' : 'done') : 'none'}>
            {embedding?.model ? embeddedText(embedding, pending, stopped) : '—'}
          </dd>
        </div>
        <div><dt>Semantic queries use</dt><dd data-field="serving">{embedding?.servingModel?.name ?? 'no vectors yet'}</dd></div>
      </dl>
      {change ? (
        <Form onSubmit={submit} noValidate id="dataset-embedding-form">
          <Form.Group className="mb-3" controlId="settings-embedding-model">
            <Form.Label>Embeddings model</Form.Label>
            <Form.Select value={chosen} onChange={(event) => setChosen(event.target.value)} disabled={!models || embedding === undefined} aria-describedby="settings-embedding-help">
              <option value={NONE}>None (keyword only)</option>
              {models?.map((model) => (
                <option key={model.id} value={model.id}>
                  {model.name}
                </option>
              ))}
            </Form.Select>
            <Form.Text id="settings-embedding-help">Another model re-embeds every chunk; queries go on with the current vectors until it is done. Add models under Models.</Form.Text>
          </Form.Group>
          <Button type="submit" disabled={busy || chosen === current}>
            Change embeddings model
          </Button>
        </Form>
      ) : null}

      <Modal show={confirming} onHide={() => setConfirming(false)} aria-labelledby="embedding-confirm-title">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="embedding-confirm-title" as="h2" className="h5">
            {chosen === NONE ? 'Stop embedding this dataset?' : `Re-embed with “${chosenName ?? chosen}”?`}
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          {chosen === NONE
            ? 'Its vectors are deleted: endpoints answer from it by keyword search only, and SEMANTIC or HYBRID endpoints over it are refused.'
            : `The dataset will be re-embedded: all its ${embedding?.totalChunks ?? chunkCount} chunks are embedded again by this model, as a job. Queries go on with the current vectors until it is done.`}
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={() => setConfirming(false)}>
            Keep the current model
          </Button>
          <Button variant="warning" onClick={() => void save()} disabled={busy}>
            {chosen === NONE ? 'Stop embedding' : 'Re-embed'}
          </Button>
        </Modal.Footer>
      </Modal>
    </section>
  );
}

/** `3 of 12 chunks (re-embedding…)` while a job embeds; `3 of 12 chunks embedded; embedding stopped: see Jobs` when none does. */
function embeddedText({ embeddedChunks, totalChunks }: ConsoleDatasetEmbeddingFragment, pending: boolean, stopped: boolean): string {
  if (stopped) return `${embeddedChunks} of ${totalChunks} chunks embedded; embedding stopped: see Jobs`;
  return `${embeddedChunks} of ${totalChunks} chunks${pending ? ' (re-embedding…)' : ''}`;
}
