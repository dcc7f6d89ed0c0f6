/**
 * Changing an endpoint in a dialog: its name, description, the datasets it answers from, the
 * chat model it answers with and its retrieval settings (its slug, publishing and listing have
 * their own buttons). The choices come from the same query as the new-endpoint form; the
 * endpoint's own datasets and model are always offered, even beyond the first 100 datasets,
 * so saving never drops one silently.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Modal from 'react-bootstrap/Modal';
import { ConsoleEndpointPartsDocument, ConsoleUpdateEndpointDocument, type ConsoleEndpointFieldsFragment, type ConsoleEndpointPartsQuery, type RetrievalMode } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';
import { RetrievalFields, retrievalFrom } from './retrieval-fields.js';

export function EditEndpoint({ endpoint, onClose, onSaved }: { endpoint: ConsoleEndpointFieldsFragment; onClose: () => void; onSaved: (endpoint: ConsoleEndpointFieldsFragment) => void }) {
  const { call } = useSession();
  const [parts, setParts] = useState<ConsoleEndpointPartsQuery | undefined>();
  const [mode, setMode] = useState<RetrievalMode>(endpoint.retrieval.mode);
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setParts(await call((client) => client.query(ConsoleEndpointPartsDocument, {})));
    } catch (error) {
      fail(error);
    }
  }, [call, fail]);
  useEffect(() => void load(), [load]);

  const offered = parts?.datasets.edges.map((edge) => edge.node) ?? [];
  const datasets = [...endpoint.datasets.filter((own) => !offered.some((dataset) => dataset.id === own.id)), ...offered];
  const chatModels = parts?.models.filter((model) => model.kind === 'CHAT') ?? [];
  if (!chatModels.some((model) => model.id === endpoint.model.id)) chatModels.unshift({ ...endpoint.model, kind: 'CHAT' });
  const uses = new Set(endpoint.datasets.map((dataset) => dataset.id));

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const input = {
      name: text('name'),
      description: text('description') || null,
      datasetIds: form.getAll('datasetIds').map(String),
      modelId: text('modelId'),
      retrieval: retrievalFrom(form, mode),
    };
    setBusy(true);
    try {
      const { updateEndpoint } = await call((client) => client.mutate(ConsoleUpdateEndpointDocument, { id: endpoint.id, input }));
      onSaved(updateEndpoint);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal show onHide={onClose} aria-labelledby="edit-endpoint-title" size="lg">
      <Form onSubmit={submit} noValidate id="edit-endpoint-form">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="edit-endpoint-title" as="h2" className="h5">
            Edit “{endpoint.name}”
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          <ErrorAlert error={failure} onDismiss={dismiss} title="Could not change the endpoint" />
          <Form.Group className="mb-3" controlId="edit-endpoint-name">
            <Form.Label>Name</Form.Label>
            <Form.Control name="name" required defaultValue={endpoint.name} />
          </Form.Group>
          <Form.Group className="mb-3" controlId="edit-endpoint-description">
            <Form.Label>Description</Form.Label>
            <Form.Control name="description" as="textarea" rows={2} defaultValue={endpoint.description ?? ''} aria-describedby="edit-endpoint-description-help" />
            <Form.Text id="edit-endpoint-description-help">Shown in the catalog; empty clears it.</Form.Text>
          </Form.Group>
          <fieldset className="mb-3">
            <legend className="form-label fs-6 mb-1">Datasets</legend>
            {parts === undefined ? (
              <p className="small mb-0">Loading the datasets…</p>
            ) : (
              datasets.map((dataset) => (
                <Form.Check
                  key={dataset.id}
                  id={`edit-endpoint-dataset-${dataset.id}`}
                  name="datasetIds"
                  value={dataset.id}
                  defaultChecked={uses.has(dataset.id)}
                  label={`${dataset.name} (${dataset.slug})`}
                />
              ))
            )}
          </fieldset>
          <Form.Group className="mb-3" controlId="edit-endpoint-model">
            <Form.Label>Chat model</Form.Label>
            <Form.Select name="modelId" defaultValue={endpoint.model.id} key={parts === undefined ? 'loading' : 'loaded'}>
              {chatModels.map((model) => (
                <option key={model.id} value={model.id}>
                  {model.name}
                </option>
              ))}
            </Form.Select>
          </Form.Group>
          <RetrievalFields idPrefix="edit-endpoint" mode={mode} onMode={setMode} topK={endpoint.retrieval.topK} minScore={endpoint.retrieval.minScore} />
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy || parts === undefined}>
            Save endpoint
          </Button>
        </Modal.Footer>
      </Form>
    </Modal>
  );
}
