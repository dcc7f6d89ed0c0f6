/**
 * The catalog: the listed, published endpoints of every tenant, searchable, with what a caller
 * needs to know before asking (documents, retrieval mode, whether a credential is needed, the
 * rate limits met), and a link to ask each in the playground (for a caller who may open it).
 */
import { useCallback, useState } from 'react';
import Badge from 'react-bootstrap/Badge';
import Card from 'react-bootstrap/Card';
import Form from 'react-bootstrap/Form';
import { Link } from 'react-router';
import { CatalogDocument, ConsoleUpdateEndpointDocument, type CatalogQuery } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { mayOpen, mayRun } from '../../may.js';
import { usePagedList } from '../../paged-list.js';
import { EmptyState, ResourceList } from '../../resource-list.js';
import { useSession } from '../../session.js';

type Entry = CatalogQuery['catalog']['edges'][number]['node'];
const PAGE = 20;

export function Catalog() {
  const { call, may } = useSession();
  const mayAsk = mayOpen(may, '/playground');
  const [search, setSearch] = useState('');
  const [failure, fail, dismiss] = useFailure();
  const entries = usePagedList(
    useCallback(async (after: string | undefined) => (await call((client) => client.query(CatalogDocument, { search: search || undefined, first: PAGE, after }))).catalog, [call, search]),
    fail,
  );

  return (
    <>
      <h1 className="h3">Catalog</h1>
      <p className="text-body-secondary">Endpoints their owners have published and listed, from every tenant. Anyone may browse it.</p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      <Form className="mb-3 filter-form" role="search" onSubmit={(event) => event.preventDefault()}>
        <Form.Label htmlFor="catalog-search" visuallyHidden>
          Search the catalog
        </Form.Label>
        <Form.Control id="catalog-search" type="search" placeholder="Search names, descriptions, tenants" value={search} onChange={(event) => setSearch(event.target.value)} />
      </Form>
      <ResourceList list={entries} failure={failure} loadingLabel="Loading the catalog"
        empty={
          <EmptyState id="catalog-empty">
            {search ? (
              <>Nothing in the catalog matches “{search}”.</>
            ) : (
              <>
                <strong>The catalog is empty.</strong>
                {mayRun(may, ConsoleUpdateEndpointDocument) ? (
                  <>
                    {' '}
                    Publish one of your <Link to="/endpoints">endpoints</Link> and list it to show it here.
                  </>
                ) : null}
              </>
            )}
          </EmptyState>
        }
      >
        {(rows) => (
          <ul className="list-unstyled catalog" id="catalog-list">
            {rows.map((entry) => (
              <li key={entry.address} data-address={entry.address}>
                <Card className="mb-3">
                  <Card.Body>
                    <Card.Title as="h2" className="h5">
                      {entry.name} <code className="fs-6">{entry.address}</code>
                    </Card.Title>
                    <Card.Subtitle className="mb-2 text-body-secondary">by {entry.tenant.name}</Card.Subtitle>
                    {entry.description ? <Card.Text>{entry.description}</Card.Text> : null}
                    <p className="small mb-2">
                      {entry.datasets.documentCount} documents, {entry.datasets.chunkCount} passages
                      {entry.datasets.lastIngestedAt ? `, updated ${formatWhen(entry.datasets.lastIngestedAt)}` : ''} · {entry.retrievalMode} retrieval ·
                      answers with {entry.modelKind} ·{' '}
                      {entry.access.credentialRequired ? <Badge bg="secondary">sign-in or API key needed</Badge> : <Badge bg="success">open to anyone</Badge>}
                    </p>
                    {entry.access.rateLimits.length > 0 ? (
                      <p className="small mb-2">Limits: {entry.access.rateLimits.map((limit) => limit.rule).join('; ')}</p>
                    ) : null}
                    {mayAsk ? (
                      <Link className="btn btn-sm btn-primary" to={`/playground?endpoint=${encodeURIComponent(entry.address)}`}>
                        Ask in the playground
                      </Link>
                    ) : null}
                  </Card.Body>
                </Card>
              </li>
            ))}
          </ul>
        )}
      </ResourceList>
    </>
  );
}
