/**
 * The tenant's endpoints: each one's address, model, datasets and retrieval settings (all of
 * which can be changed: Edit, or Retrieval settings alone); publishing, listing in the catalog, asking it in the playground, deleting it (which asks
 * first); and a form to create one. Each change is offered only to a caller who may make it
 * (ENDPOINT_MANAGE, may.ts): the others read the list and ask the endpoints.
 */
import { useCallback, useState } from 'react';
import Badge from 'react-bootstrap/Badge';
import Button from 'react-bootstrap/Button';
import Modal from 'react-bootstrap/Modal';
import { Link } from 'react-router';
import {
  ConsoleCreateEndpointDocument,
  ConsoleEndpointsDocument,
  ConsoleUpdateEndpointDocument,
  DeleteEndpointDocument,
  type ConsoleEndpointFieldsFragment,
} from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { mayOpen, mayRun } from '../../may.js';
import { usePagedList } from '../../paged-list.js';
import { EmptyState, ResourceList, ResourceTable } from '../../resource-list.js';
import { useSession } from '../../session.js';
import { CreateEndpoint } from './create-endpoint.js';
import { EditEndpoint, type EndpointPart } from './edit-endpoint.js';

type EndpointRow = ConsoleEndpointFieldsFragment;
const PAGE = 50;

export function Endpoints() {
  const { call, may } = useSession();
  const mayCreate = mayRun(may, ConsoleCreateEndpointDocument);
  const mayChange = mayRun(may, ConsoleUpdateEndpointDocument);
  const mayDelete = mayRun(may, DeleteEndpointDocument);
  const [deleting, setDeleting] = useState<EndpointRow | undefined>();
  const [editing, setEditing] = useState<{ endpoint: EndpointRow; part: EndpointPart } | undefined>();
  const [failure, fail, dismiss] = useFailure();
  const endpoints = usePagedList(
    useCallback(async (after: string | undefined) => (await call((client) => client.query(ConsoleEndpointsDocument, { first: PAGE, after }))).endpoints, [call]),
    fail,
  );

  const replace = (changed: EndpointRow) => endpoints.setRows((shown) => shown?.map((row) => (row.id === changed.id ? changed : row)));

  const change = async (endpoint: EndpointRow, input: { published?: boolean; listed?: boolean }) => {
    try {
      const { updateEndpoint } = await call((client) => client.mutate(ConsoleUpdateEndpointDocument, { id: endpoint.id, input }));
      replace(updateEndpoint);
    } catch (error) {
      fail(error);
    }
  };

  const remove = async () => {
    if (!deleting) return;
    const endpoint = deleting;
    setDeleting(undefined);
    try {
      await call((client) => client.mutate(DeleteEndpointDocument, { id: endpoint.id }));
      endpoints.setRows((shown) => shown?.filter((row) => row.id !== endpoint.id));
    } catch (error) {
      fail(error);
    }
  };

  return (
    <>
      <h1 className="h3">Endpoints</h1>
      <p className="text-body-secondary">
        An endpoint answers questions from datasets with a model, at an address. Publish it to let other tenants ask; list it to show it in the catalog.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      <ResourceList list={endpoints} failure={failure} loadingLabel="Loading endpoints"
        empty={
          <EmptyState id="endpoints-empty">
            <strong>No endpoints yet.</strong>{' '}
            {mayCreate ? (
              <>
                Create one below over a dataset with documents and a chat model (add one under <Link to="/models">Models</Link>).
              </>
            ) : (
              'An administrator of the tenant creates them.'
            )}
          </EmptyState>
        }
      >
        {(rows) => (
          <ResourceTable id="endpoints-table" caption="Your tenant's endpoints" className="mb-2 align-middle" columns={['Endpoint', 'Model', 'Datasets', 'Retrieval', 'State', 'Actions']}>
            {rows.map((endpoint) => (
              <tr key={endpoint.id} data-slug={endpoint.slug}>
                <td data-field="endpoint">
                  {endpoint.name}
                  <div>
                    <code>{endpoint.reference}</code>
                  </div>
                  {endpoint.description ? <div className="small text-body-secondary">{endpoint.description}</div> : null}
                </td>
                <td>{endpoint.model.name}</td>
                <td>{endpoint.datasets.map((dataset) => dataset.name).join(', ') || 'none left'}</td>
                <td data-field="retrieval">
                  {endpoint.retrieval.mode}, top {endpoint.retrieval.topK}
                  {endpoint.retrieval.minScore != null ? `, min score ${endpoint.retrieval.minScore}` : ''}
                  {endpoint.retrieval.passagesPerDocument != null ? `, ${endpoint.retrieval.passagesPerDocument} per document` : ''}
                </td>
                <td data-field="state">
                  <Badge bg={endpoint.published ? 'success' : 'secondary'}>{endpoint.published ? 'published' : 'unpublished'}</Badge>{' '}
                  {endpoint.listed ? <Badge bg="info" text="dark">in catalog</Badge> : null}
                </td>
                <td>
                  <div className="d-flex flex-wrap gap-1">
                    {mayChange ? (
                      <>
                        <Button size="sm" variant="outline-primary" onClick={() => void change(endpoint, { published: !endpoint.published })}>
                          {endpoint.published ? 'Unpublish' : 'Publish'}
                        </Button>
                        {endpoint.published ? (
                          <Button size="sm" variant="outline-primary" onClick={() => void change(endpoint, { listed: !endpoint.listed })}>
                            {endpoint.listed ? 'Remove from catalog' : 'List in catalog'}
                          </Button>
                        ) : null}
                        <Button size="sm" variant="outline-primary" onClick={() => setEditing({ endpoint, part: 'all' })}>
                          Edit
                        </Button>
                        <Button size="sm" variant="outline-primary" onClick={() => setEditing({ endpoint, part: 'retrieval' })}>
                          Retrieval settings
                        </Button>
                      </>
                    ) : null}
                    {mayOpen(may, '/playground') ? (
                      <Link className="btn btn-sm btn-outline-secondary" to={`/playground?endpoint=${encodeURIComponent(endpoint.reference)}`}>
                        Ask
                      </Link>
                    ) : null}
                    {mayDelete ? (
                      <Button size="sm" variant="outline-danger" onClick={() => setDeleting(endpoint)}>
                        Delete
                      </Button>
                    ) : null}
                  </div>
                </td>
              </tr>
            ))}
          </ResourceTable>
        )}
      </ResourceList>
      {mayCreate ? <CreateEndpoint onCreated={() => void endpoints.reload()} /> : null}
      {editing ? (
        <EditEndpoint
          endpoint={editing.endpoint}
          part={editing.part}
          onClose={() => setEditing(undefined)}
          onSaved={(changed) => {
            replace(changed);
            setEditing(undefined);
          }}
        />
      ) : null}
      <Modal show={deleting !== undefined} onHide={() => setDeleting(undefined)} aria-labelledby="delete-endpoint-title">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="delete-endpoint-title" as="h2" className="h5">
            Delete “{deleting?.name}”?
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          <code>{deleting?.reference}</code> stops answering at once, for everyone; its policies go with it. Its datasets, model and usage records stay. This
          cannot be undone.
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={() => setDeleting(undefined)}>
            Keep it
          </Button>
          <Button variant="danger" onClick={() => void remove()}>
            Delete
          </Button>
        </Modal.Footer>
      </Modal>
    </>
  );
}
