/**
 * Changing a model in a dialog: its name, every setting of its type and its prices
 * (model-fields.tsx, shared with the create form), and its API key: a new one replaces the
 * stored key (rotation; the old one is gone at once), "Remove" clears it, empty keeps it. The
 * configuration is sent whole (`updateModel` replaces it), built on the one the model has:
 * fields left as they were keep their stored values exactly.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Modal from 'react-bootstrap/Modal';
import { UpdateModelDocument, type ConsoleModelFieldsFragment, type ConsoleModelsQuery } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';
import { ModelFields, readModelFields } from './model-fields.js';

type ModelTypeInfo = ConsoleModelsQuery['modelTypes'][number];

export function EditModel({ model, type, onClose, onSaved }: { model: ConsoleModelFieldsFragment; type: ModelTypeInfo | undefined; onClose: () => void; onSaved: () => void }) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const [removeKey, setRemoveKey] = useState(false);
  const stored = { config: (model.config ?? {}) as Record<string, unknown>, promptMicrosPer1k: model.promptMicrosPer1k, completionMicrosPer1k: model.completionMicrosPer1k };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const newKey = text('apiKey');
    // Omitted keeps the key; null removes it; a value replaces it.
    const apiKey = removeKey ? null : newKey ? newKey : undefined;
    setBusy(true);
    try {
      const input = { name: text('name'), ...readModelFields(form, model.type, stored), apiKey };
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
          <ModelFields idPrefix="edit-model" type={model.type} stored={stored} failure={failure} />
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
