/**
 * Adding a model: its type (from the server's `modelTypes`), a name, every setting of that type
 * and its prices (model-fields.tsx, shared with the edit dialog), and an API key where the type
 * takes one (sent once, stored sealed, never shown again). The server validates all of it; its
 * refusal is shown as said, above the form, and marks the fields it names.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { ConsoleCreateModelDocument, type ConsoleModelsQuery } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';
import { ModelFields, readModelFields } from './model-fields.js';

type ModelTypeInfo = ConsoleModelsQuery['modelTypes'][number];

export function CreateModel({ types, onCreated }: { types: ModelTypeInfo[]; onCreated: () => void }) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  // The fields the last refusal named: marked until the form is sent again; the refusal itself stays above until dismissed or replaced.
  const [marked, setMarked] = useState<unknown>();
  const [typeName, setTypeName] = useState('extractive');
  const type = types.find((known) => known.name === typeName);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    setMarked(undefined);
    try {
      const settings = readModelFields(form, typeName);
      const input = { name: text('name'), type: typeName, ...settings, apiKey: type?.acceptsApiKey && text('apiKey') ? text('apiKey') : undefined };
      await call((client) => client.mutate(ConsoleCreateModelDocument, { input }));
      formElement.reset();
      setTypeName('extractive');
      onCreated();
    } catch (error) {
      fail(error);
      setMarked(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="create-model-title" className="mt-4 narrow">
      <h2 id="create-model-title" className="h5">
        New model
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not create the model" />
      <Form onSubmit={submit} noValidate id="create-model-form">
        <Form.Group className="mb-3" controlId="model-type">
          <Form.Label>Type</Form.Label>
          <Form.Select name="type" value={typeName} onChange={(event) => setTypeName(event.target.value)} aria-describedby="model-type-help">
            {(types.length > 0 ? types : [{ name: 'extractive', kind: 'CHAT' as const, description: '', acceptsApiKey: false }]).map((known) => (
              <option key={known.name} value={known.name}>
                {known.name} ({known.kind === 'CHAT' ? 'chat' : 'embeddings'})
              </option>
            ))}
          </Form.Select>
          <Form.Text id="model-type-help">{type?.description}</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="model-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" required aria-describedby="model-name-help" />
          <Form.Text id="model-name-help">Unique in your tenant; endpoints name it.</Form.Text>
        </Form.Group>
        {/* Keyed by type: another type starts from its own empty fields. */}
        <ModelFields key={typeName} idPrefix="model" type={typeName} failure={failure === undefined ? undefined : marked} />
        {type?.acceptsApiKey ? (
          <Form.Group className="mb-3" controlId="model-api-key">
            <Form.Label>API key</Form.Label>
            <Form.Control name="apiKey" type="password" autoComplete="off" aria-describedby="model-api-key-help" />
            <Form.Text id="model-api-key-help">Optional. Stored encrypted; only its last four characters are ever shown.</Form.Text>
          </Form.Group>
        ) : null}
        <Button type="submit" disabled={busy}>
          Create model
        </Button>
      </Form>
    </section>
  );
}
