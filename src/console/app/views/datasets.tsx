/** The tenant's datasets: a list (filter by name, load more) and, for those who may write data, a form to create one. */
import { useCallback, useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { Link } from 'react-router';
import { CreateDatasetDocument, DatasetsDocument, type DatasetFieldsFragment } from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { formatBytes, formatWhen, slugFrom } from '../format.js';
import { mayRun } from '../may.js';
import { usePagedList } from '../paged-list.js';
import { EmptyState, ResourceList, ResourceTable } from '../resource-list.js';
import { useSession } from '../session.js';
import { useEmbeddingModels } from './dataset-embedding.js';

const PAGE = 50;

export function Datasets() {
  const { call, may } = useSession();
  const create = mayRun(may, CreateDatasetDocument);
  const [filter, setFilter] = useState('');
  const [failure, fail, dismiss] = useFailure();
  const datasets = usePagedList(
    useCallback(async (after: string | undefined) => (await call((client) => client.query(DatasetsDocument, { first: PAGE, after, nameContains: filter || undefined }))).datasets, [call, filter]),
    fail,
  );

  return (
    <>
      <h1 className="h3">Datasets</h1>
      <p className="text-body-secondary">Documents you ingest are kept in datasets; endpoints answer questions from them.</p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      <Form className="mb-3 filter-form" role="search" onSubmit={(event) => event.preventDefault()}>
        <Form.Label htmlFor="datasets-filter" visuallyHidden>
          Filter datasets by name
        </Form.Label>
        <Form.Control id="datasets-filter" type="search" placeholder="Filter by name" value={filter} onChange={(event) => setFilter(event.target.value)} />
      </Form>
      <ResourceList list={datasets} failure={failure} loadingLabel="Loading datasets"
        empty={
          <EmptyState id="datasets-empty">
            {filter ? (
              <>No dataset's name contains “{filter}”.</>
            ) : (
              <>
                <strong>No datasets yet.</strong> {create ? 'Create one below, then ingest files into it.' : 'A member of the tenant creates them.'}
              </>
            )}
          </EmptyState>
        }
      >
        {(rows) => (
          <ResourceTable
            id="datasets-table"
            caption="Your tenant's datasets"
            hover
            columns={['Name', 'Slug', { label: 'Documents', className: 'text-end' }, { label: 'Chunks', className: 'text-end' }, { label: 'Size', className: 'text-end' }, 'Last ingested']}
          >
            {rows.map((dataset) => (
              <tr key={dataset.id} data-slug={dataset.slug}>
                <td>
                  <Link to={`/datasets/${encodeURIComponent(dataset.slug)}`}>{dataset.name}</Link>
                </td>
                <td>
                  <code>{dataset.slug}</code>
                </td>
                <td className="text-end" data-field="documents">{dataset.documentCount}</td>
                <td className="text-end" data-field="chunks">{dataset.chunkCount}</td>
                <td className="text-end">{formatBytes(dataset.bytes)}</td>
                <td>{formatWhen(dataset.lastIngestedAt) ?? 'never'}</td>
              </tr>
            ))}
          </ResourceTable>
        )}
      </ResourceList>
      {create ? <CreateDataset onCreated={() => void datasets.reload()} /> : null}
    </>
  );
}

function CreateDataset({ onCreated }: { onCreated: () => void }) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const models = useEmbeddingModels(fail);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const name = String(form.get('name')).trim();
    const description = String(form.get('description')).trim();
    setBusy(true);
    try {
      const embeddingModelId = String(form.get('embeddingModelId') ?? '') || undefined;
      const input = { name, slug: String(form.get('slug')).trim() || slugFrom(name), description: description || undefined, embeddingModelId };
      await call((client) => client.mutate(CreateDatasetDocument, { input }));
      formElement.reset();
      onCreated();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="create-dataset-title" className="mt-4 narrow">
      <h2 id="create-dataset-title" className="h5">
        New dataset
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not create the dataset" />
      <Form onSubmit={submit} noValidate id="create-dataset-form">
        <Form.Group className="mb-3" controlId="dataset-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="dataset-slug">
          <Form.Label>Slug</Form.Label>
          <Form.Control name="slug" aria-describedby="dataset-slug-help" />
          <Form.Text id="dataset-slug-help">Lower-case letters, digits and hyphens; made from the name when left empty.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="dataset-description">
          <Form.Label>Description</Form.Label>
          <Form.Control name="description" as="textarea" rows={2} aria-describedby="dataset-description-help" />
          <Form.Text id="dataset-description-help">Optional.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="dataset-embedding-model">
          <Form.Label>Embeddings model</Form.Label>
          <Form.Select name="embeddingModelId" defaultValue="" aria-describedby="dataset-embedding-model-help">
            <option value="">None (keyword only)</option>
            {models?.map((model) => (
              <option key={model.id} value={model.id}>
                {model.name}
              </option>
            ))}
          </Form.Select>
          <Form.Text id="dataset-embedding-model-help">Embeds its chunks for semantic search; it can be changed later in its settings.</Form.Text>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Create dataset
        </Button>
      </Form>
    </section>
  );
}
