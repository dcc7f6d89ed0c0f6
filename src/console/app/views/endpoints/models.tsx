/**
 * The tenant's models (chat and embeddings): a list with each one's health and a "Test
 * connection" action (`testModel`: one real request through the model's own client, the
 * result said beside it), editing one (name, configuration, API key), deleting one (asked
 * first; the server refuses while an endpoint or a dataset uses it, and says which), and a
 * form to add one. Each action is offered only to a caller who may run it (MODEL_MANAGE, may.ts):
 * the others read the list.
 */
import { useCallback, useEffect, useState } from 'react';
import Badge from 'react-bootstrap/Badge';
import Button from 'react-bootstrap/Button';
import { ConsoleCreateModelDocument, ConsoleModelsDocument, DeleteModelDocument, TestModelDocument, UpdateModelDocument, type ConsoleModelFieldsFragment, type ConsoleModelsQuery, type TestModelMutation } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { everyPage } from '../../every-page.js';
import { formatWhen } from '../../format.js';
import { EmptyState, ResourceList, ResourceTable } from '../../resource-list.js';
import { mayReadConfiguration, mayRun } from '../../may.js';
import { useSession } from '../../session.js';
import { Confirm } from '../govern/confirm.js';
import { CreateModel } from './create-model.js';
import { EditModel } from './edit-model.js';

type Tested = TestModelMutation['testModel'];

export function Models() {
  const { call, may } = useSession();
  // Below ADMIN the list shows names, types and whether a key is stored, not where models call or the key's ending.
  const withConfig = mayReadConfiguration(may);
  const mayTest = mayRun(may, TestModelDocument);
  const mayEdit = mayRun(may, UpdateModelDocument);
  const mayDelete = mayRun(may, DeleteModelDocument);
  const mayCreate = mayRun(may, ConsoleCreateModelDocument);
  const [models, setModels] = useState<ConsoleModelFieldsFragment[] | undefined>();
  const [types, setTypes] = useState<ConsoleModelsQuery['modelTypes']>([]);
  const [tests, setTests] = useState<Record<string, Tested | 'testing'>>({});
  const [editing, setEditing] = useState<ConsoleModelFieldsFragment | undefined>();
  const [deleting, setDeleting] = useState<ConsoleModelFieldsFragment | undefined>();
  const [failure, fail, dismiss] = useFailure();
  const [refusal, refuse, dismissRefusal] = useFailure();

  const load = useCallback(async () => {
    try {
      // Every page, 100 a request: a tenant has a handful of models, and the list is one table.
      let found: ConsoleModelsQuery | undefined;
      const rows = await call((client) =>
        everyPage(async (after) => {
          found = await client.query(ConsoleModelsDocument, { first: 100, after, withConfig });
          return found.models;
        }),
      );
      setModels(rows);
      setTypes(found?.modelTypes ?? []);
    } catch (error) {
      fail(error);
    }
  }, [call, fail, withConfig]);
  useEffect(() => void load(), [load]);

  const test = async (model: ConsoleModelFieldsFragment) => {
    setTests((shown) => ({ ...shown, [model.id]: 'testing' }));
    try {
      const { testModel } = await call((client) => client.mutate(TestModelDocument, { id: model.id }));
      setTests((shown) => ({ ...shown, [model.id]: testModel }));
    } catch (error) {
      setTests(({ [model.id]: _dropped, ...rest }) => rest);
      fail(error);
    }
  };

  const remove = async () => {
    if (!deleting) return;
    const model = deleting;
    setDeleting(undefined);
    try {
      await call((client) => client.mutate(DeleteModelDocument, { id: model.id }));
      setModels((shown) => shown?.filter((row) => row.id !== model.id));
    } catch (error) {
      // CONFLICT (MODEL_IN_USE) names the endpoints and datasets that use it.
      refuse(error);
    }
  };

  return (
    <>
      <h1 className="h3">Models</h1>
      <p className="text-body-secondary">
        Chat models answer an endpoint's questions from its passages; embeddings models turn text into vectors for semantic search.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      <ErrorAlert error={refusal} onDismiss={dismissRefusal} title="Could not delete the model" />
      <ResourceList list={{ rows: models }} failure={failure} loadingLabel="Loading models"
        empty={
          <EmptyState id="models-empty">
            <strong>No models yet.</strong>{' '}
            {mayCreate ? (
              <>
                Add the built-in <em>extractive</em> model below (it needs no model server), or one that speaks the OpenAI protocol; then create an endpoint
                with it.
              </>
            ) : (
              'An administrator of the tenant adds them.'
            )}
          </EmptyState>
        }
      >
        {(rows) => (
          <ResourceTable id="models-table" caption="Your tenant's models" className="mb-4 align-middle" columns={['Name', 'Type', 'Kind', 'API key', 'Health', ...(mayTest ? ['Connection'] : []), ...(mayEdit || mayDelete ? ['Actions'] : [])]}>
            {rows.map((model) => (
              <tr key={model.id} data-name={model.name}>
                <td>{model.name}</td>
                <td>
                  <code>{model.type}</code>
                  {typeof model.config?.baseUrl === 'string' ? <div className="small text-body-secondary text-break">{model.config.baseUrl}</div> : null}
                </td>
                <td>{model.kind === 'CHAT' ? 'chat' : 'embeddings'}</td>
                <td>{model.apiKeySet ? (model.apiKeyLast4 ? `set, …${model.apiKeyLast4}` : 'set') : 'none'}</td>
                <td className="small">
                  {model.health ? `${model.health.status}, ${formatWhen(model.health.lastCheckedAt)}` : 'not checked yet'}
                </td>
                {mayTest ? (
                  <td data-field="connection">
                    <Button size="sm" variant="outline-primary" onClick={() => void test(model)} disabled={tests[model.id] === 'testing'} aria-label={`Test connection of ${model.name}`}>
                      Test connection
                    </Button>
                    <TestResult result={tests[model.id]} />
                  </td>
                ) : null}
                {mayEdit || mayDelete ? (
                  <td>
                    <div className="d-flex flex-wrap gap-1">
                      {mayEdit ? (
                        <Button size="sm" variant="outline-primary" onClick={() => setEditing(model)} aria-label={`Edit ${model.name}`}>
                          Edit
                        </Button>
                      ) : null}
                      {mayDelete ? (
                        <Button size="sm" variant="outline-danger" onClick={() => setDeleting(model)} aria-label={`Delete ${model.name}`}>
                          Delete
                        </Button>
                      ) : null}
                    </div>
                  </td>
                ) : null}
              </tr>
            ))}
          </ResourceTable>
        )}
      </ResourceList>
      {mayCreate ? <CreateModel types={types} onCreated={() => void load()} /> : null}
      {editing ? (
        <EditModel
          model={editing}
          type={types.find((known) => known.name === editing.type)}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            // A changed server or key is another model to test: forget the last result.
            setTests(({ [editing.id]: _dropped, ...rest }) => rest);
            void load();
          }}
        />
      ) : null}
      <Confirm title={deleting ? `Delete “${deleting.name}”?` : undefined} confirmLabel="Delete" keepLabel="Keep it" onConfirm={() => void remove()} onCancel={() => setDeleting(undefined)}>
        The model and its stored API key are deleted. Sluice refuses while an endpoint answers with it or a dataset embeds with it: change or delete those
        first. This cannot be undone.
      </Confirm>
    </>
  );
}

/** What the last test found, said in words (a screen reader hears it as it changes). */
function TestResult({ result }: { result: Tested | 'testing' | undefined }) {
  if (result === undefined) return null;
  if (result === 'testing') {
    return (
      <div className="small mt-1" role="status">
        Testing…
      </div>
    );
  }
  return (
    <div className="small mt-1 test-result" role="status">
      {result.ok ? (
        <>
          <Badge bg="success">Connected</Badge> answered in {result.latencyMs} ms
        </>
      ) : (
        <>
          <Badge bg="danger">Failed</Badge> <span className="text-danger-emphasis">{result.error}</span>
        </>
      )}
    </div>
  );
}
