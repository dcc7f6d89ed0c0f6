/**
 * Changing an endpoint in a dialog: its name, description, the datasets it answers from, the
 * chat model it answers with and its retrieval settings (its slug, publishing and listing have
 * their own buttons); or, as "Retrieval settings", only the last. The choices come from the
 * same query as the new-endpoint form; the endpoint's own datasets and model are always
 * offered, even beyond the first 100 datasets, so saving never drops one silently. A refusal
 * (a blank name, SEMANTIC or HYBRID over a dataset that does not embed, top K out of range…)
 * is shown in the dialog and stays until dismissed or the dialog is closed.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Modal from 'react-bootstrap/Modal';
import { ConsoleUpdateEndpointDocument, type ConsoleEndpointFieldsFragment, type RetrievalMode } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';
import { chatModelsOf, useEndpointParts } from './endpoint-parts.js';
import { RetrievalFields, retrievalFrom } from './retrieval-fields.js';

/** What the dialog changes: everything it can, or only the retrieval settings. */
export type EndpointPart = 'all' | 'retrieval';

const WORDS: Record<EndpointPart, { title: (name: string) => string; save: string; refused: string }> = {
  all: { title: (name) => `Edit “${name}”`, save: 'Save endpoint', refused: 'Could not change the endpoint' },
  retrieval: { title: (name) => `Retrieval of “${name}”`, save: 'Save retrieval settings', refused: 'Could not change the retrieval settings' },
};

export function EditEndpoint({
  endpoint,
  part,
  onClose,
  onSaved,
}: {
  endpoint: ConsoleEndpointFieldsFragment;
  part: EndpointPart;
  onClose: () => void;
  onSaved: (endpoint: ConsoleEndpointFieldsFragment) => void;
}) {
  const { call } = useSession();
  const [mode, setMode] = useState<RetrievalMode>(endpoint.retrieval.mode);
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const parts = useEndpointParts(fail);
  const words = WORDS[part];

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const retrieval = retrievalFrom(form, mode);
    const input =
      part === 'retrieval'
        ? { retrieval }
        : {
            name: text('name'),
            slug: text('slug'),
            description: text('description') || null,
            datasetIds: form.getAll('datasetIds').map(String),
            modelId: text('modelId'),
            allowAnonymous: form.get('allowAnonymous') === 'on',
            retrieval,
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
    <Modal show onHide={onClose} aria-labelledby="edit-endpoint-title" size={part === 'all' ? 'lg' : undefined}>
      <Form onSubmit={submit} noValidate id="edit-endpoint-form">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="edit-endpoint-title" as="h2" className="h5">
            {words.title(endpoint.name)}
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          <ErrorAlert error={failure} onDismiss={dismiss} title={words.refused} />
          {part === 'all' ? <EndpointFields endpoint={endpoint} parts={parts} /> : null}
          <RetrievalFields idPrefix="edit-endpoint" mode={mode} onMode={setMode} topK={endpoint.retrieval.topK} minScore={endpoint.retrieval.minScore} passagesPerDocument={endpoint.retrieval.passagesPerDocument} />
          <p className="small mb-0">Served now by the {endpoint.retrieval.engine} engine.</p>
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy || (part === 'all' && parts === undefined)}>
            {words.save}
          </Button>
        </Modal.Footer>
      </Form>
    </Modal>
  );
}

/** Name, slug, description, datasets, anonymous callers and chat model, filled in with the endpoint's own. */
function EndpointFields({ endpoint, parts }: { endpoint: ConsoleEndpointFieldsFragment; parts: ReturnType<typeof useEndpointParts> }) {
  const offered = parts?.datasets ?? [];
  const datasets = [...endpoint.datasets.filter((own) => !offered.some((dataset) => dataset.id === own.id)), ...offered];
  const chatModels = chatModelsOf(parts);
  if (!chatModels.some((model) => model.id === endpoint.model.id)) chatModels.unshift(endpoint.model);
  const uses = new Set(endpoint.datasets.map((dataset) => dataset.id));
  return (
    <>
      <Form.Group className="mb-3" controlId="edit-endpoint-name">
        <Form.Label>Name</Form.Label>
        <Form.Control name="name" required defaultValue={endpoint.name} />
      </Form.Group>
      <Form.Group className="mb-3" controlId="edit-endpoint-slug">
        <Form.Label>Slug</Form.Label>
        <Form.Control name="slug" required defaultValue={endpoint.slug} aria-describedby="edit-endpoint-slug-help" />
        <Form.Text id="edit-endpoint-slug-help">
          Its address is <code>{endpoint.reference.split('/')[0]}/</code> and this: a new slug changes the address, and callers using the old one are told it does not exist.
        </Form.Text>
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
      <Form.Check
        className="mb-3"
        id="edit-endpoint-allow-anonymous"
        name="allowAnonymous"
        defaultChecked={endpoint.allowAnonymous}
        label="Anonymous callers may ask (while published; a per-address limit and the policies apply)"
      />
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
    </>
  );
}
