/**
 * Adding a model: its type (from the server's `modelTypes`), a name, and what that type needs:
 * the server's address and model name for the OpenAI-protocol types, an API key where the type
 * takes one (sent once, stored sealed, never shown again), sentences per answer for the
 * built-in extractive type. The server validates all of it; its refusals are shown as said.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { ConsoleCreateModelDocument, type ConsoleModelsQuery } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';

type ModelTypeInfo = ConsoleModelsQuery['modelTypes'][number];

export function CreateModel({ types, onCreated }: { types: ModelTypeInfo[]; onCreated: () => void }) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const [typeName, setTypeName] = useState('extractive');
  const type = types.find((known) => known.name === typeName);
  // Every type but the built-in one calls a server at an address (the OpenAI-protocol types today).
  const callsServer = typeName !== 'extractive';

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const config: Record<string, unknown> = {};
    if (callsServer) {
      config.baseUrl = text('baseUrl');
      config.model = text('model');
    } else if (text('maxSentences')) {
      config.maxSentences = Number(text('maxSentences'));
    }
    setBusy(true);
    try {
      const input = { name: text('name'), type: typeName, config, apiKey: type?.acceptsApiKey && text('apiKey') ? text('apiKey') : undefined };
      await call((client) => client.mutate(ConsoleCreateModelDocument, { input }));
      formElement.reset();
      setTypeName('extractive');
      onCreated();
    } catch (error) {
      fail(error);
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
        {callsServer ? (
          <>
            <Form.Group className="mb-3" controlId="model-base-url">
              <Form.Label>Server URL</Form.Label>
              <Form.Control name="baseUrl" type="url" required placeholder="https://api.openai.com/v1" aria-describedby="model-base-url-help" />
              <Form.Text id="model-base-url-help">Up to and including the API version. Private addresses are refused unless the operator allows them.</Form.Text>
            </Form.Group>
            <Form.Group className="mb-3" controlId="model-model">
              <Form.Label>Model name on the server</Form.Label>
              <Form.Control name="model" required placeholder="gpt-4o-mini" />
            </Form.Group>
          </>
        ) : (
          <Form.Group className="mb-3" controlId="model-max-sentences">
            <Form.Label>Sentences per answer</Form.Label>
            <Form.Control name="maxSentences" type="number" min={1} max={20} placeholder="3" aria-describedby="model-max-sentences-help" />
            <Form.Text id="model-max-sentences-help">1 to 20; 3 when left empty.</Form.Text>
          </Form.Group>
        )}
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
