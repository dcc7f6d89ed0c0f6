/**
 * The tenant's API keys: create one (its secret shown once, with a copy button), rotate one
 * with a grace period (the old key keeps working until it ends), revoke one after asking.
 */
import { useCallback, useState, type FormEvent } from 'react';
import Badge from 'react-bootstrap/Badge';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Modal from 'react-bootstrap/Modal';
import { ApiKeysDocument, CreateApiKeyDocument, RevokeApiKeyDocument, RotateApiKeyDocument, type ApiKeyFieldsFragment, type ApiScope } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { usePagedList } from '../../paged-list.js';
import { ACTIONS, EmptyState, ResourceList, ResourceTable } from '../../resource-list.js';
import { useSession } from '../../session.js';
import { Confirm } from './confirm.js';
import { ShownOnce } from './shown-once.js';

const SCOPES: [ApiScope, string][] = [
  ['READ', 'read: read the tenant’s data, query endpoints'],
  ['WRITE', 'write: also create and change datasets and documents'],
  ['ADMIN', 'admin: also manage endpoints, models, policies, keys and members'],
];

const GRACE_PERIODS: [number, string][] = [
  [0, 'none: the old key stops now'],
  [3600, 'one hour'],
  [86_400, 'one day'],
  [7 * 86_400, 'one week'],
];

export function ApiKeys() {
  const { call } = useSession();
  const [secret, setSecret] = useState<{ name: string; value: string } | undefined>();
  const [rotating, setRotating] = useState<ApiKeyFieldsFragment | undefined>();
  const [revoking, setRevoking] = useState<ApiKeyFieldsFragment | undefined>();
  const [failure, fail, dismiss] = useFailure();
  const keys = usePagedList(
    useCallback(async (after: string | undefined) => (await call((client) => client.query(ApiKeysDocument, { first: 100, after }))).viewer.tenant?.apiKeys, [call]),
    fail,
  );

  const revoke = async (key: ApiKeyFieldsFragment) => {
    setRevoking(undefined);
    try {
      await call((client) => client.mutate(RevokeApiKeyDocument, { id: key.id }));
      await keys.reload();
    } catch (error) {
      fail(error);
    }
  };

  return (
    <>
      <h1 className="h3">API keys</h1>
      <p className="text-body-secondary">Programs use a key instead of signing in. A key acts with its scopes in this tenant; its secret is shown once, when it is made.</p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      {secret ? (
        <ShownOnce id="new-key-secret" title={`The secret of “${secret.name}”`} value={secret.value} onDismiss={() => setSecret(undefined)}>
          Copy it now and keep it somewhere safe: Sluice keeps only its hash and cannot show it again. Send it as <code>Authorization: Bearer …</code> or <code>X-API-Key</code>.
        </ShownOnce>
      ) : null}
      <ResourceList list={keys} failure={failure} loadingLabel="Loading keys"
        empty={
          <EmptyState id="keys-empty">
            <strong>No API keys yet.</strong> Create one below for a program (CI, a backend) that calls Sluice.
          </EmptyState>
        }
      >
        {(rows) => (
          <ResourceTable id="keys-table" caption="The tenant's API keys" columns={['Name', 'Starts with', 'Scopes', 'Created', 'Expires', 'Last used', 'State', ACTIONS]}>
            {rows.map((key) => {
              const live = !key.revokedAt && (!key.expiresAt || Date.parse(key.expiresAt) > Date.now());
              return (
                <tr key={key.id} data-prefix={key.prefix}>
                  <td>{key.name}</td>
                  <td>
                    <code>{key.prefix}…</code>
                  </td>
                  <td>{key.scopes.map((scope) => scope.toLowerCase()).join(', ')}</td>
                  <td>{formatWhen(key.createdAt)}</td>
                  <td>{formatWhen(key.expiresAt) ?? 'never'}</td>
                  <td>{formatWhen(key.lastUsedAt) ?? 'never'}</td>
                  <td data-field="state">
                    {key.revokedAt ? <Badge bg="secondary">revoked</Badge> : !live ? <Badge bg="secondary">expired</Badge> : key.replacedBy ? <Badge bg="warning" text="dark">replaced, in grace period</Badge> : <Badge bg="success">active</Badge>}
                  </td>
                  <td className="text-end text-nowrap">
                    {live ? (
                      <>
                        <Button size="sm" variant="outline-primary" className="me-2" onClick={() => setRotating(key)} disabled={!!key.replacedBy}>
                          Rotate
                        </Button>
                        <Button size="sm" variant="outline-danger" onClick={() => setRevoking(key)}>
                          Revoke
                        </Button>
                      </>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </ResourceTable>
        )}
      </ResourceList>
      <CreateKey
        onCreated={(name, value) => {
          setSecret({ name, value });
          void keys.reload();
        }}
      />
      <RotateKey
        apiKey={rotating}
        onClose={() => setRotating(undefined)}
        onRotated={(name, value) => {
          setRotating(undefined);
          setSecret({ name, value });
          void keys.reload();
        }}
      />
      <Confirm title={revoking ? `Revoke “${revoking.name}”?` : undefined} confirmLabel="Revoke" keepLabel="Keep it" onCancel={() => setRevoking(undefined)} onConfirm={() => revoking && void revoke(revoking)}>
        Programs using the key <code>{revoking?.prefix}…</code> are refused from their next request. This cannot be undone.
      </Confirm>
    </>
  );
}

function CreateKey({ onCreated }: { onCreated: (name: string, secret: string) => void }) {
  const { call, signedIn } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const lifetime = String(form.get('lifetime'));
    const days = Number(form.get('days'));
    const input = {
      name: String(form.get('name')).trim(),
      scopes: form.getAll('scopes').map(String) as ApiScope[],
      // Omitted: the tenant's default lifetime; null: never expires (OWNER only).
      ...(lifetime === 'never' ? { expiresAt: null } : lifetime === 'days' ? { expiresAt: new Date(Date.now() + days * 86_400_000).toISOString() } : {}),
    };
    setBusy(true);
    try {
      const { createApiKey } = await call((client) => client.mutate(CreateApiKeyDocument, { input }));
      formElement.reset();
      onCreated(createApiKey.apiKey.name, createApiKey.secret);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="create-key-title" className="mt-4 narrow">
      <h2 id="create-key-title" className="h5">
        New API key
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not create the key" />
      <Form onSubmit={submit} noValidate id="create-key-form">
        <Form.Group className="mb-3" controlId="key-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" required aria-describedby="key-name-help" />
          <Form.Text id="key-name-help">Who uses it, to tell keys apart (ci, billing backend).</Form.Text>
        </Form.Group>
        <fieldset className="mb-3">
          <legend className="form-label fs-6">Scopes</legend>
          {SCOPES.map(([scope, label]) => (
            <Form.Check key={scope} type="checkbox" name="scopes" value={scope} id={`key-scope-${scope}`} label={label} defaultChecked={scope === 'READ'} />
          ))}
          <Form.Text>A key may hold only scopes you hold yourself.</Form.Text>
        </fieldset>
        <Form.Group className="mb-3" controlId="key-lifetime">
          <Form.Label>Expires</Form.Label>
          <Form.Select name="lifetime" defaultValue="default" aria-describedby="key-lifetime-help">
            <option value="default">after the tenant's default lifetime</option>
            <option value="days">after the number of days below</option>
            {signedIn?.role === 'OWNER' ? <option value="never">never (owners only)</option> : null}
          </Form.Select>
          <Form.Text id="key-lifetime-help">The default is set in Tenant settings (90 days unless changed); only owners may choose a later date.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="key-days">
          <Form.Label>Days</Form.Label>
          <Form.Control name="days" type="number" min={1} defaultValue={30} aria-describedby="key-days-help" />
          <Form.Text id="key-days-help">Used only with “after the number of days below”.</Form.Text>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Create key
        </Button>
      </Form>
    </section>
  );
}

function RotateKey({ apiKey, onClose, onRotated }: { apiKey: ApiKeyFieldsFragment | undefined; onClose: () => void; onRotated: (name: string, secret: string) => void }) {
  const { call } = useSession();
  const [grace, setGrace] = useState(3600);
  const [failure, fail, dismiss] = useFailure();
  const rotate = async () => {
    if (!apiKey) return;
    try {
      const { rotateApiKey } = await call((client) => client.mutate(RotateApiKeyDocument, { id: apiKey.id, gracePeriodSeconds: grace }));
      dismiss();
      onRotated(rotateApiKey.apiKey.name, rotateApiKey.secret);
    } catch (error) {
      fail(error);
    }
  };
  return (
    <Modal show={apiKey !== undefined} onHide={onClose} aria-labelledby="rotate-key-title">
      <Modal.Header closeButton closeLabel="Close">
        <Modal.Title id="rotate-key-title" as="h2" className="h5">
          Rotate “{apiKey?.name}”?
        </Modal.Title>
      </Modal.Header>
      <Modal.Body>
        <ErrorAlert error={failure} onDismiss={dismiss} title="Could not rotate the key" />
        <p>A new key with the same name, scopes and lifetime is made; its secret is shown once. The old key keeps working for the grace period, so programs can move over.</p>
        <Form.Group controlId="rotate-grace">
          <Form.Label>Grace period</Form.Label>
          <Form.Select value={grace} onChange={(event) => setGrace(Number(event.target.value))}>
            {GRACE_PERIODS.map(([seconds, label]) => (
              <option key={seconds} value={seconds}>
                {label}
              </option>
            ))}
          </Form.Select>
        </Form.Group>
      </Modal.Body>
      <Modal.Footer>
        <Button variant="secondary" onClick={onClose}>
          Cancel
        </Button>
        <Button variant="primary" onClick={() => void rotate()}>
          Rotate
        </Button>
      </Modal.Footer>
    </Modal>
  );
}
