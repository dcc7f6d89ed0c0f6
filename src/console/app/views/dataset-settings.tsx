/**
 * A dataset's settings: name, slug and description. A new slug moves the view to its new
 * address; below them its embeddings model (dataset-embedding.tsx), changed apart because a
 * change re-embeds the dataset and asks first.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { UpdateDatasetDocument, type DatasetFieldsFragment } from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { useSession } from '../session.js';
import { DatasetEmbedding } from './dataset-embedding.js';

export function DatasetSettings({
  dataset,
  onSaved,
  onJobStarted,
  embeddingRefreshKey,
}: {
  dataset: DatasetFieldsFragment;
  onSaved: (saved: DatasetFieldsFragment) => void;
  /** A re-embed job was queued (a new embeddings model). */
  onJobStarted?: () => void;
  /** A new value reads the embeddings model's state again (a re-embed job was seen: it may have changed elsewhere; or a job ended). */
  embeddingRefreshKey?: number;
}) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input = {
      name: String(form.get('name')).trim(),
      slug: String(form.get('slug')).trim(),
      description: String(form.get('description')).trim() || null,
    };
    setBusy(true);
    setSaved(false);
    try {
      const { updateDataset } = await call((client) => client.mutate(UpdateDatasetDocument, { id: dataset.id, input }));
      setSaved(true);
      onSaved(updateDataset);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="dataset-settings-title" className="mt-4 narrow">
      <h2 id="dataset-settings-title" className="h5">
        Settings
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not save the settings" />
      {/* key: the fields start from the saved values again after each save. */}
      <Form onSubmit={submit} noValidate key={`${dataset.id}:${dataset.updatedAt}`} id="dataset-settings-form">
        <Form.Group className="mb-3" controlId="settings-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" defaultValue={dataset.name} required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="settings-slug">
          <Form.Label>Slug</Form.Label>
          <Form.Control name="slug" defaultValue={dataset.slug} required aria-describedby="settings-slug-help" />
          <Form.Text id="settings-slug-help">Endpoints keep answering from it; its address here changes.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="settings-description">
          <Form.Label>Description</Form.Label>
          <Form.Control name="description" as="textarea" rows={2} defaultValue={dataset.description ?? ''} />
        </Form.Group>
        <div className="d-flex align-items-center gap-3">
          <Button type="submit" disabled={busy}>
            Save settings
          </Button>
          <span role="status" className="text-success">
            {saved ? 'Saved.' : ''}
          </span>
        </div>
      </Form>
      <DatasetEmbedding datasetId={dataset.id} chunkCount={dataset.chunkCount} onJobStarted={onJobStarted} refreshKey={embeddingRefreshKey} />
    </section>
  );
}
