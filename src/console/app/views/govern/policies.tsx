/**
 * An endpoint's policies (add, edit, switch on and off, delete after asking) and, beside them,
 * the decision log that says why each caller was let through or refused.
 */
import { useCallback, useEffect, useState } from 'react';
import Badge from 'react-bootstrap/Badge';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Form from 'react-bootstrap/Form';
import Spinner from 'react-bootstrap/Spinner';
import Table from 'react-bootstrap/Table';
import { useSearchParams } from 'react-router';
import {
  CreatePolicyDocument,
  DeletePolicyDocument,
  EndpointPoliciesDocument,
  GovernEndpointsDocument,
  PolicyTypesDocument,
  UpdatePolicyDocument,
  type GovernEndpointsQuery,
  type PolicyFieldsFragment,
} from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { everyPage } from '../../every-page.js';
import { mayReadConfiguration } from '../../may.js';
import { useSession } from '../../session.js';
import { Confirm } from './confirm.js';
import { DecisionLog } from './decision-log.js';
import { describePolicy } from './policy-fields.js';
import { PolicyForm, type PolicyTypeInfo } from './policy-form.js';

export type GovernedEndpoint = GovernEndpointsQuery['endpoints']['edges'][number]['node'];

export function Policies() {
  const { call, may } = useSession();
  // Below ADMIN a policy shows its type and whether it is on, not whom it names or what it allows.
  const withConfig = mayReadConfiguration(may);
  // Changing policies is POLICY_MANAGE's, the decision log USAGE_READ's: below, the list alone.
  const manage = may('POLICY_MANAGE');
  const [params, setParams] = useSearchParams();
  const [endpoints, setEndpoints] = useState<GovernedEndpoint[] | undefined>();
  const [types, setTypes] = useState<PolicyTypeInfo[]>([]);
  const [policies, setPolicies] = useState<PolicyFieldsFragment[] | undefined>();
  const [editing, setEditing] = useState<string | undefined>();
  const [deleting, setDeleting] = useState<PolicyFieldsFragment | undefined>();
  const [failure, fail, dismiss] = useFailure();

  useEffect(() => {
    // Every endpoint, so any of them can be governed however many the tenant has.
    call((client) => Promise.all([everyPage((after) => client.query(GovernEndpointsDocument, { first: 100, after }).then(({ endpoints: page }) => page)), client.query(PolicyTypesDocument, {})]))
      .then(([all, { policyTypes }]) => {
        setEndpoints(all);
        setTypes(policyTypes);
      })
      .catch(fail);
  }, [call, fail]);

  const endpoint = endpoints?.find((candidate) => candidate.slug === params.get('endpoint')) ?? endpoints?.[0];
  const choose = (slug: string) => setParams({ endpoint: slug }, { replace: true });

  const slug = endpoint?.slug;
  const load = useCallback(async () => {
    if (!slug) return;
    try {
      const { endpoint: found } = await call((client) => client.query(EndpointPoliciesDocument, { slug, withConfig }));
      setPolicies(found?.policies ?? []);
    } catch (error) {
      fail(error);
    }
  }, [call, fail, slug, withConfig]);
  useEffect(() => {
    setPolicies(undefined);
    void load();
  }, [load]);

  const run = async (request: Parameters<typeof call>[0]) => {
    try {
      await call(request);
    } catch (error) {
      fail(error);
    }
    await load();
  };

  return (
    <>
      <h1 className="h3">Policies</h1>
      <p className="text-body-secondary">
        Policies decide, for every query to an endpoint, who may ask, how often, at what charge and with what text. The decision log below records each decision and
        why.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      {endpoints === undefined ? (
        failure === undefined ? <Spinner animation="border" role="status" size="sm"><span className="visually-hidden">Loading endpoints</span></Spinner> : null
      ) : !endpoint ? (
        <Card body className="empty-state mb-4" id="policies-no-endpoints">
          <strong>No endpoints yet.</strong> Policies belong to an endpoint: create one (a dataset and a model behind a slug) first, then come back to decide who may ask it.
        </Card>
      ) : (
        <section aria-labelledby="endpoint-policies-title" className="mb-4">
          <Form.Group className="mb-3 filter-form" controlId="policies-endpoint">
            <Form.Label>Endpoint</Form.Label>
            <Form.Select value={endpoint.slug} onChange={(event) => choose(event.target.value)}>
              {endpoints.map((candidate) => (
                <option key={candidate.id} value={candidate.slug}>
                  {candidate.name} ({candidate.reference})
                </option>
              ))}
            </Form.Select>
          </Form.Group>
          <h2 id="endpoint-policies-title" className="h5">
            Policies of {endpoint.reference}
          </h2>
          {policies === undefined ? null : policies.length === 0 ? (
            <Card body className="empty-state mb-3" id="policies-empty">
              <strong>No policies.</strong> Every caller who may reach this endpoint is let through, as often as the platform's limits allow.{manage ? ' Add a policy below.' : ''}
            </Card>
          ) : (
            <Table responsive className="mb-3" id="policies-table">
              <caption className="visually-hidden">Policies of {endpoint.reference}, evaluated in this order</caption>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">What it does</th>
                  <th scope="col">On</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {policies.map((policy) =>
                  editing === policy.id ? (
                    <tr key={policy.id} data-policy={policy.id}>
                      <td colSpan={4}>
                        <PolicyForm
                          idPrefix={`edit-policy`}
                          types={types}
                          initial={{ ...policy, configuration: policy.configuration ?? {} }}
                          submitLabel="Save policy"
                          onCancel={() => setEditing(undefined)}
                          onSubmit={async ({ configuration, enabled }) => {
                            await call((client) => client.mutate(UpdatePolicyDocument, { id: policy.id, input: { configuration, enabled } }));
                            setEditing(undefined);
                            await load();
                          }}
                        />
                      </td>
                    </tr>
                  ) : (
                    <tr key={policy.id} data-policy={policy.id} data-type={policy.type}>
                      <td>
                        <code>{policy.type}</code>
                      </td>
                      <td>{configurationSaid(policy)}</td>
                      <td>
                        <Form.Check
                          type="switch"
                          id={`policy-enabled-${policy.id}`}
                          aria-label={`${policy.type} policy enabled`}
                          checked={policy.enabled}
                          disabled={!manage}
                          onChange={(event) => void run((client) => client.mutate(UpdatePolicyDocument, { id: policy.id, input: { enabled: event.target.checked } }))}
                        />
                        {policy.enabled ? null : <Badge bg="secondary">off</Badge>}
                      </td>
                      <td className="text-end text-nowrap">
                        {manage ? (
                          <>
                            <Button size="sm" variant="outline-primary" className="me-2" onClick={() => setEditing(policy.id)}>
                              Edit
                            </Button>
                            <Button size="sm" variant="outline-danger" onClick={() => setDeleting(policy)}>
                              Delete
                            </Button>
                          </>
                        ) : null}
                      </td>
                    </tr>
                  ),
                )}
              </tbody>
            </Table>
          )}
          {manage ? (
            <Card className="narrow">
              <Card.Body>
                <h3 className="h6">Add a policy to {endpoint.reference}</h3>
                {types.length > 0 ? (
                  <PolicyForm
                    key={endpoint.id}
                    idPrefix="new-policy"
                    types={types}
                    submitLabel="Add policy"
                    onSubmit={async ({ type, configuration, enabled }) => {
                      await call((client) => client.mutate(CreatePolicyDocument, { input: { endpointId: endpoint.id, type, configuration, enabled } }));
                      await load();
                    }}
                  />
                ) : null}
              </Card.Body>
            </Card>
          ) : null}
        </section>
      )}
      {endpoints && endpoints.length > 0 && may('USAGE_READ') ? <DecisionLog endpoints={endpoints} /> : null}
      <Confirm
        title={deleting ? `Delete this ${deleting.type} policy?` : undefined}
        confirmLabel="Delete"
        keepLabel="Keep it"
        onCancel={() => setDeleting(undefined)}
        onConfirm={() => {
          const policy = deleting;
          setDeleting(undefined);
          if (policy) void run((client) => client.mutate(DeletePolicyDocument, { id: policy.id }));
        }}
      >
        {deleting ? configurationSaid(deleting) : null}. It stops applying to the next query; its past decisions stay in the log.
      </Confirm>
    </>
  );
}

/** What the policy does, or, for a role that may not read its configuration, that it is not shown. */
function configurationSaid(policy: PolicyFieldsFragment): string {
  return policy.configuration ? describePolicy(policy.type, policy.configuration) : 'Its configuration is shown to admins only';
}
