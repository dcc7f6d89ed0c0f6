/**
 * A dataset's settings: name, slug and description. A new slug moves the view to its new
 * address; below them its embeddings model (dataset-embedding.tsx), changed apart because a
 * change re-embeds the dataset and asks first.
 *
 * The dataset can change elsewhere while the form is open (another tab, the CLI, the API: the
 * page follows its live feed). What is being typed is never thrown away for that: a field not
 * edited here takes the new saved value; a field edited here keeps the edit, and the form says
 * what the saved value has become, so saving overwrites it knowingly, or the saved values are
 * taken back with one click.
 *
 * A caller who may not change the dataset (no DATA_WRITE) gets no form: the page shows its name,
 * slug and description already; its embeddings section still says how it is embedded.
 */
import { useEffect, useState, type FormEvent } from 'react';
import Alert from 'react-bootstrap/Alert';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { UpdateDatasetDocument, type DatasetFieldsFragment } from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { mayRun } from '../may.js';
import { useSession } from '../session.js';
import { DatasetEmbedding } from './dataset-embedding.js';

const FIELDS = [
  { name: 'name', label: 'Name' },
  { name: 'slug', label: 'Slug' },
  { name: 'description', label: 'Description' },
] as const;
type Field = (typeof FIELDS)[number]['name'];
type Values = Record<Field, string>;

const valuesOf = (dataset: Pick<DatasetFieldsFragment, Field>): Values => ({ name: dataset.name, slug: dataset.slug, description: dataset.description ?? '' });

/**
 * The form's values (`draft`) and the saved values each started from (`base`): a field whose
 * draft still equals its base is not being edited. Saved values that change follow into the
 * fields not being edited; an edited field keeps its draft.
 */
function useDraft(saved: Values) {
  const [form, setForm] = useState({ draft: saved, base: saved });
  useEffect(
    () =>
      setForm(({ draft, base }) => {
        const next = { draft: { ...draft }, base: { ...base } };
        for (const { name } of FIELDS) {
          if (draft[name] === base[name]) next.draft[name] = next.base[name] = saved[name];
        }
        return next;
      }),
    [saved.name, saved.slug, saved.description],
  );
  // Edited here and changed elsewhere since the edit began (to something else than the edit).
  const changedElsewhere = FIELDS.filter(({ name }) => form.draft[name] !== form.base[name] && form.base[name] !== saved[name] && form.draft[name] !== saved[name]);
  return {
    draft: form.draft,
    changedElsewhere,
    edit: (name: Field, value: string) => setForm(({ draft, base }) => ({ draft: { ...draft, [name]: value }, base })),
    reset: (values: Values) => setForm({ draft: values, base: values }),
  };
}

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
  const { call, may } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const current = valuesOf(dataset);
  const { draft, changedElsewhere, edit, reset } = useDraft(current);
  const change = (name: Field, value: string) => {
    setSaved(false);
    edit(name, value);
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const input = { name: draft.name.trim(), slug: draft.slug.trim(), description: draft.description.trim() || null };
    setBusy(true);
    setSaved(false);
    try {
      const { updateDataset } = await call((client) => client.mutate(UpdateDatasetDocument, { id: dataset.id, input }));
      setSaved(true);
      // The fields start from the saved values again.
      reset(valuesOf(updateDataset));
      onSaved(updateDataset);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  const embedding = <DatasetEmbedding datasetId={dataset.id} chunkCount={dataset.chunkCount} onJobStarted={onJobStarted} refreshKey={embeddingRefreshKey} />;
  if (!mayRun(may, UpdateDatasetDocument)) return embedding;
  return (
    <section aria-labelledby="dataset-settings-title" className="mt-4 narrow">
      <h2 id="dataset-settings-title" className="h5">
        Settings
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not save the settings" />
      {changedElsewhere.length > 0 ? (
        <Alert variant="warning" id="settings-changed-elsewhere">
          <p className="mb-2">Changed elsewhere while you were editing:</p>
          <ul className="mb-2">
            {changedElsewhere.map(({ name, label }) => (
              <li key={name}>
                {label} is now {current[name] ? <>“{current[name]}”</> : 'empty'}.
              </li>
            ))}
          </ul>
          <p className="mb-2">Saving replaces it with what you typed.</p>
          <Button variant="outline-secondary" size="sm" onClick={() => reset(current)}>
            Use the saved values
          </Button>
        </Alert>
      ) : null}
      <Form onSubmit={submit} noValidate id="dataset-settings-form">
        <Form.Group className="mb-3" controlId="settings-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" value={draft.name} onChange={(event) => change('name', event.target.value)} required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="settings-slug">
          <Form.Label>Slug</Form.Label>
          <Form.Control name="slug" value={draft.slug} onChange={(event) => change('slug', event.target.value)} required aria-describedby="settings-slug-help" />
          <Form.Text id="settings-slug-help">Endpoints keep answering from it; its address here changes.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="settings-description">
          <Form.Label>Description</Form.Label>
          <Form.Control name="description" as="textarea" rows={2} value={draft.description} onChange={(event) => change('description', event.target.value)} />
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
      {embedding}
    </section>
  );
}
