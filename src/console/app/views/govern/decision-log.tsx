/**
 * The decision log, newest first, filtered by endpoint, outcome, caller and time: each row says
 * who asked, what was decided and why (the policy or platform rule, its reason and code, and
 * every policy's verdict), so an admin can answer "why was this caller refused".
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import Badge from 'react-bootstrap/Badge';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Col from 'react-bootstrap/Col';
import Form from 'react-bootstrap/Form';
import Row from 'react-bootstrap/Row';
import Table from 'react-bootstrap/Table';
import { RecentPolicyDecisionsDocument, type PolicyDecisionOutcome, type RecentPolicyDecisionsQuery } from '../../../../sdk/index.js';
import { readTenantCallers } from '../../callers.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { useSession } from '../../session.js';

type Decision = RecentPolicyDecisionsQuery['policyDecisions']['edges'][number]['node'];
interface Verdict {
  type?: string;
  decision?: string;
  rule?: string;
  reasonCode?: string;
}

const PAGE = 50;

/** The endpoints the log can be filtered by. */
export function DecisionLog({ endpoints }: { endpoints: { id: string; slug: string }[] }) {
  const { call } = useSession();
  const [endpointId, setEndpointId] = useState('');
  const [outcome, setOutcome] = useState('');
  const [callerId, setCallerId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [decisions, setDecisions] = useState<Decision[] | undefined>();
  const [older, setOlder] = useState<string | null>(null);
  const [callers, setCallers] = useState<Map<string, string>>(new Map());
  const [failure, fail, dismiss] = useFailure();
  // Each filter change starts a request; only the latest one's answer is shown (they may finish out of order).
  const latest = useRef(0);

  const load = useCallback(
    async (before?: string) => {
      const request = ++latest.current;
      try {
        const filter = {
          endpointId: endpointId || undefined,
          decision: outcome ? (outcome as PolicyDecisionOutcome) : undefined,
          callerId: callerId.trim() || undefined,
          from: from ? new Date(from).toISOString() : undefined,
          to: to ? new Date(to).toISOString() : undefined,
        };
        const { policyDecisions: page } = await call((client) => client.query(RecentPolicyDecisionsDocument, { filter, last: PAGE, before }));
        if (request !== latest.current) return;
        const rows = page.edges.map((edge) => edge.node).reverse();
        setDecisions((shown) => (before ? [...(shown ?? []), ...rows] : rows));
        setOlder(page.pageInfo.hasPreviousPage ? (page.pageInfo.startCursor ?? null) : null);
      } catch (error) {
        fail(error);
      }
    },
    [call, fail, endpointId, outcome, callerId, from, to],
  );
  useEffect(() => void load(), [load]);

  // The tenant's members and keys, to name callers: the log keeps ids (an email is personal data).
  useEffect(() => {
    call(readTenantCallers)
      .then(({ members, apiKeys }) => {
        const named = new Map(members);
        for (const [id, key] of apiKeys) named.set(id, `key “${key.name}” (${key.prefix}…)`);
        setCallers(named);
      })
      .catch(fail);
  }, [call, fail]);

  const callerName = (decision: Decision) => callers.get(decision.callerId) ?? (decision.callerKind === 'anonymous' ? 'an anonymous address' : decision.callerId);

  return (
    <section aria-labelledby="decision-log-title" className="mt-4">
      <h2 id="decision-log-title" className="h5">
        Decision log
      </h2>
      <p className="text-body-secondary small">Every query to an endpoint with policies, and every refusal by the platform's own limits, newest first. The query text is never kept.</p>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not read the decision log" />
      <Form className="mb-3" id="decision-filters" onSubmit={(event) => event.preventDefault()} aria-label="Filter decisions">
        <Row className="g-2">
          <Col xs={12} sm={6} lg>
            <Form.Group controlId="decisions-endpoint">
              <Form.Label>Endpoint</Form.Label>
              <Form.Select value={endpointId} onChange={(event) => setEndpointId(event.target.value)}>
                <option value="">All endpoints</option>
                {endpoints.map((endpoint) => (
                  <option key={endpoint.id} value={endpoint.id}>
                    {endpoint.slug}
                  </option>
                ))}
              </Form.Select>
            </Form.Group>
          </Col>
          <Col xs={12} sm={6} lg>
            <Form.Group controlId="decisions-outcome">
              <Form.Label>Outcome</Form.Label>
              <Form.Select value={outcome} onChange={(event) => setOutcome(event.target.value)}>
                <option value="">Any</option>
                <option value="DENY">Refused</option>
                <option value="ALLOW">Let through</option>
              </Form.Select>
            </Form.Group>
          </Col>
          <Col xs={12} sm={6} lg>
            <Form.Group controlId="decisions-caller">
              <Form.Label>Caller</Form.Label>
              <Form.Select value={callers.has(callerId) || !callerId ? callerId : '?'} onChange={(event) => setCallerId(event.target.value === '?' ? callerId : event.target.value)}>
                <option value="">Anyone</option>
                {[...callers].map(([id, name]) => (
                  <option key={id} value={id}>
                    {name}
                  </option>
                ))}
                {callerId && !callers.has(callerId) ? <option value="?">{callerId}</option> : null}
              </Form.Select>
            </Form.Group>
          </Col>
          <Col xs={12} sm={6} lg>
            <Form.Group controlId="decisions-from">
              <Form.Label>From</Form.Label>
              <Form.Control type="datetime-local" value={from} onChange={(event) => setFrom(event.target.value)} />
            </Form.Group>
          </Col>
          <Col xs={12} sm={6} lg>
            <Form.Group controlId="decisions-to">
              <Form.Label>Until</Form.Label>
              <Form.Control type="datetime-local" value={to} onChange={(event) => setTo(event.target.value)} />
            </Form.Group>
          </Col>
        </Row>
        <Button variant="link" className="px-0" onClick={() => void load()}>
          Refresh
        </Button>
      </Form>
      {decisions === undefined ? null : decisions.length === 0 ? (
        <Card body className="empty-state" id="decisions-empty">
          {endpointId || outcome || callerId || from || to ? 'No decision matches these filters.' : 'No decisions yet: they appear once callers ask an endpoint that has policies.'}
        </Card>
      ) : (
        <Table responsive className="mb-2 align-top stacked-on-narrow" id="decisions-table">
          <caption className="visually-hidden">Policy decisions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Caller</th>
              <th scope="col">Outcome</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {decisions.map((decision) => (
              <tr key={decision.id} data-decision={decision.decision}>
                <td className="text-nowrap" data-label="When">{formatWhen(decision.createdAt)}</td>
                <td data-label="Endpoint">
                  <code>{decision.endpointSlug}</code>
                </td>
                <td className="text-break" data-label="Caller">
                  {callerName(decision)} <span className="text-body-secondary small">({decision.callerKind})</span>
                  {callerId !== decision.callerId ? (
                    <Button variant="link" size="sm" className="p-0 d-block" onClick={() => setCallerId(decision.callerId)}>
                      Only this caller
                    </Button>
                  ) : null}
                </td>
                <td data-label="Outcome">{decision.decision === 'DENY' ? <Badge bg="danger">Refused</Badge> : <Badge bg="success">Let through</Badge>}</td>
                <td data-field="why" data-label="Why">
                  <Why decision={decision} />
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {older ? (
        <Button variant="outline-secondary" onClick={() => void load(older)}>
          Older decisions
        </Button>
      ) : null}
    </section>
  );
}

function Why({ decision }: { decision: Decision }) {
  const verdicts = decision.verdicts as Verdict[];
  const by = decision.decision === 'ALLOW' ? 'Every policy let it through.' : decision.policyType ? `Refused by the ${decision.policyType} policy.` : "Refused by the platform's own limit.";
  return (
    <>
      <div>{by}</div>
      {decision.reason ? (
        <div>
          {decision.reason} {decision.reasonCode ? <code>{decision.reasonCode}</code> : null}
        </div>
      ) : null}
      {decision.rule ? <div className="small">Rule: {decision.rule}</div> : null}
      {decision.retryAfterSeconds ? <div className="small">May ask again after {decision.retryAfterSeconds} s.</div> : null}
      {verdicts.length > 0 ? (
        <details className="small">
          <summary>Each policy's verdict</summary>
          <ul className="mb-0">
            {verdicts.map((verdict, index) => (
              <li key={index}>
                {verdict.type}: {verdict.decision === 'DENY' ? 'refuse' : 'allow'}
                {verdict.rule ? ` (${verdict.rule})` : ''}
                {verdict.reasonCode ? ` ${verdict.reasonCode}` : ''}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </>
  );
}
