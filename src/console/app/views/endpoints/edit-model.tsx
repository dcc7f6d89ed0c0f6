/**
 * Changing a model in a dialog: its name, what its type is configured with (the server's
 * address and model name, or sentences per answer), its prices, and its API key: a new one replaces the
 * stored key (rotation; the old one is gone at once), "Remove" clears it, empty keeps it. The
 * configuration is sent whole (`updateModel` replaces it), built on the one the model has, so
 * settings the form does not show (batch size, dimensions…) are kept.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Modal from 'react-bootstrap/Modal';
import { UpdateModelDocument, type ConsoleModelFieldsFragment, type ConsoleModelsQuery } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';

type ModelTypeInfo = ConsoleModelsQuery['modelTypes'][number];

export function EditModel({ model, type, onClose, onSaved }: { model: ConsoleModelFieldsFragment; type: ModelTypeInfo | undefined; onClose: () => void; onSaved: () => void }) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const [removeKey, setRemoveKey] = useState(false);
  const callsServer = model.type !== 'extractive';
  const config = model.config as Record<string, unknown>;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const nextConfig: Record<string, unknown> = { ...config };
    if (callsServer) {
      nextConfig.baseUrl = text('baseUrl');
      nextConfig.model = text('model');
    } else if (text('maxSentences')) {
      nextConfig.maxSentences = Number(text('maxSentences'));
    } else {
      delete nextConfig.maxSentences;
    }
    const newKey = text('apiKey');
    // Omitted keeps the key; null removes it; a value replaces it.
    const apiKey = removeKey ? null : newKey ? newKey : undefined;
    setBusy(true);
    try {
      const price = (name: string) => Number(text(name) || 0);
      const input = { name: text('name'), config: nextConfig, apiKey, promptMicrosPer1k: price('promptMicrosPer1k'), completionMicrosPer1k: price('completionMicrosPer1k') };
      await call((client) => client.mutate(UpdateModelDocument, { id: model.id, input }));
      onSaved();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal show onHide={onClose} aria-labelledby="edit-model-title">
      <Form onSubmit={submit} noValidate id="edit-model-form">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="edit-model-title" as="h2" className="h5">
            Edit “{model.name}”
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          <ErrorAlert error={failure} onDismiss={dismiss} title="Could not change the model" />
          <p className="small">
            Type <code>{model.type}</code> (a model's type cannot change: create another model instead).
          </p>
          <Form.Group className="mb-3" controlId="edit-model-name">
            <Form.Label>Name</Form.Label>
            <Form.Control name="name" required defaultValue={model.name} />
          </Form.Group>
          {callsServer ? (
            <>
              <Form.Group className="mb-3" controlId="edit-model-base-url">
                <Form.Label>Server URL</Form.Label>
                <Form.Control name="baseUrl" type="url" required defaultValue={String(config.baseUrl ?? '')} />
              </Form.Group>
              <Form.Group className="mb-3" controlId="edit-model-model">
                <Form.Label>Model name on the server</Form.Label>
                <Form.Control name="model" required defaultValue={String(config.model ?? '')} />
              </Form.Group>
            </>
          ) : (
            <Form.Group className="mb-3" controlId="edit-model-max-sentences">
              <Form.Label>Sentences per answer</Form.Label>
              <Form.Control name="maxSentences" type="number" min={1} max={20} defaultValue={config.maxSentences === undefined ? undefined : Number(config.maxSentences)} aria-describedby="edit-model-max-sentences-help" />
              <Form.Text id="edit-model-max-sentences-help">1 to 20; 3 when left empty.</Form.Text>
            </Form.Group>
          )}
          <fieldset className="mb-3">
            <legend className="form-label fs-6 mb-1">Prices (for usage cost)</legend>
            <p className="small mb-2" id="edit-model-prices-help">
              In micro-units of your currency per 1 000 tokens (1 000 000 = 1.00); 0 counts calls as free. Usage records keep the cost at the time of each call.
            </p>
            <Form.Group className="mb-2" controlId="edit-model-prompt-price">
              <Form.Label>Prompt tokens</Form.Label>
              <Form.Control name="promptMicrosPer1k" type="number" min={0} step={1} defaultValue={model.promptMicrosPer1k} aria-describedby="edit-model-prices-help" />
            </Form.Group>
            <Form.Group controlId="edit-model-completion-price">
              <Form.Label>Completion tokens</Form.Label>
              <Form.Control name="completionMicrosPer1k" type="number" min={0} step={1} defaultValue={model.completionMicrosPer1k} aria-describedby="edit-model-prices-help" />
            </Form.Group>
          </fieldset>
          {type?.acceptsApiKey ? (
            <fieldset>
              <legend className="form-label fs-6 mb-1">API key</legend>
              <p className="small mb-2">{model.apiKeySet ? `A key ending …${model.apiKeyLast4 ?? ''} is stored.` : 'No key is stored.'}</p>
              <Form.Group className="mb-2" controlId="edit-model-api-key">
                <Form.Label>New API key</Form.Label>
                <Form.Control name="apiKey" type="password" autoComplete="off" disabled={removeKey} aria-describedby="edit-model-api-key-help" />
                <Form.Text id="edit-model-api-key-help">Replaces the stored key at once (the old one is no longer sent). Empty keeps it.</Form.Text>
              </Form.Group>
              {model.apiKeySet ? <Form.Check id="edit-model-remove-key" label="Remove the stored key" checked={removeKey} onChange={(event) => setRemoveKey(event.target.checked)} /> : null}
            </fieldset>
          ) : null}
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy}>
            Save model
          </Button>
        </Modal.Footer>
      </Form>
    </Modal>
  );
}
