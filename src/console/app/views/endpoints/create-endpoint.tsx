/**
 * Creating an endpoint: name, slug (made from the name when empty), the datasets it answers
 * from, the chat model it answers with, its retrieval settings (mode, passages per query,
 * minimum score), and whether it is published and listed at once. The server checks every
 * field; SEMANTIC and HYBRID need datasets that embed, which the form says beside the mode.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { Link } from 'react-router';
import { ConsoleCreateEndpointDocument, type RetrievalMode } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { slugFrom } from '../../format.js';
import { useSession } from '../../session.js';
import { chatModelsOf, useEndpointParts } from './endpoint-parts.js';
import { RetrievalFields, retrievalFrom } from './retrieval-fields.js';

export function CreateEndpoint({ onCreated }: { onCreated: () => void }) {
  const { call } = useSession();
  const [mode, setMode] = useState<RetrievalMode>('KEYWORD');
  const [published, setPublished] = useState(false);
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const parts = useEndpointParts(fail);

  const datasets = parts?.datasets ?? [];
  const chatModels = chatModelsOf(parts);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const name = text('name');
    setBusy(true);
    try {
      const input = {
        name,
        slug: text('slug') || slugFrom(name),
        description: text('description') || undefined,
        datasetIds: form.getAll('datasetIds').map(String),
        modelId: text('modelId'),
        published,
        listed: published && form.get('listed') === 'on',
        retrieval: retrievalFrom(form, mode),
      };
      await call((client) => client.mutate(ConsoleCreateEndpointDocument, { input }));
      formElement.reset();
      setMode('KEYWORD');
      setPublished(false);
      onCreated();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="create-endpoint-title" className="mt-4 narrow">
      <h2 id="create-endpoint-title" className="h5">
        New endpoint
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not create the endpoint" />
      <Form onSubmit={submit} noValidate id="create-endpoint-form">
        <Form.Group className="mb-3" controlId="endpoint-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="endpoint-slug">
          <Form.Label>Slug</Form.Label>
          <Form.Control name="slug" aria-describedby="endpoint-slug-help" />
          <Form.Text id="endpoint-slug-help">3 to 64 lower-case letters, digits and hyphens; made from the name when empty. Callers ask it as tenant/slug.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="endpoint-description">
          <Form.Label>Description</Form.Label>
          <Form.Control name="description" as="textarea" rows={2} aria-describedby="endpoint-description-help" />
          <Form.Text id="endpoint-description-help">Optional; shown in the catalog.</Form.Text>
        </Form.Group>
        <fieldset className="mb-3" aria-describedby="endpoint-datasets-help">
          <legend className="form-label fs-6 mb-1">Datasets</legend>
          {datasets.length === 0 ? (
            <p className="small mb-0" id="endpoint-datasets-help">
              No datasets yet: <Link to="/datasets">create one</Link> and ingest documents into it first.
            </p>
          ) : (
            <>
              {datasets.map((dataset) => (
                <Form.Check
                  key={dataset.id}
                  id={`endpoint-dataset-${dataset.id}`}
                  name="datasetIds"
                  value={dataset.id}
                  label={`${dataset.name} (${dataset.slug}${dataset.embedding?.model ? ', embedded' : ', keyword only'})`}
                />
              ))}
              <Form.Text id="endpoint-datasets-help">The endpoint answers from all the ones you tick.</Form.Text>
            </>
          )}
        </fieldset>
        <Form.Group className="mb-3" controlId="endpoint-model">
          <Form.Label>Chat model</Form.Label>
          <Form.Select name="modelId" aria-describedby="endpoint-model-help">
            {chatModels.map((model) => (
              <option key={model.id} value={model.id}>
                {model.name}
              </option>
            ))}
          </Form.Select>
          <Form.Text id="endpoint-model-help">
            {chatModels.length === 0 ? <>No chat model yet: add one under <Link to="/models">Models</Link>.</> : 'What composes the answer from the passages.'}
          </Form.Text>
        </Form.Group>
        <RetrievalFields idPrefix="endpoint" mode={mode} onMode={setMode} />
        <Form.Check className="mb-2" id="endpoint-published" name="published" label="Published: callers of other tenants may ask it" checked={published} onChange={(event) => setPublished(event.target.checked)} />
        <Form.Check className="mb-3" id="endpoint-listed" name="listed" label="Listed in the catalog (needs published)" disabled={!published} />
        <Button type="submit" disabled={busy}>
          Create endpoint
        </Button>
      </Form>
    </section>
  );
}
