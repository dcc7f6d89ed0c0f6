/**
 * The audit trail (ADMIN): events newest first, filtered by action (exact or `config.*`),
 * actor, outcome and time; 50 at a time; a live tail that adds new events as they are written;
 * chain verification on demand.
 */
import { useCallback, useState, type FormEvent } from 'react';
import Badge from 'react-bootstrap/Badge';
import Button from 'react-bootstrap/Button';
import Col from 'react-bootstrap/Col';
import Form from 'react-bootstrap/Form';
import Row from 'react-bootstrap/Row';
import Table from 'react-bootstrap/Table';
import { AuditEventsDocument, type AuditEventFilter } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { usePagedList } from '../../paged-list.js';
import { EmptyState, ResourceList } from '../../resource-list.js';
import { useSession } from '../../session.js';
import { useAuditTail, type AuditEvent } from './audit-tail.js';
import { AuditVerification } from './audit-verify.js';

const PAGE = 50;

export function Audit() {
  const { call } = useSession();
  const [filter, setFilter] = useState<AuditEventFilter>({});
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [live, setLive] = useState(false);
  const [failure, fail, dismiss] = useFailure();
  const events = usePagedList(
    useCallback(
      async (after: string | undefined) => {
        const { auditEvents } = await call((client) => client.query(AuditEventsDocument, { filter, first: PAGE, after }));
        if (!after) setFresh(new Set());
        // Not a Relay connection: the events, then where the next page starts.
        return { edges: auditEvents.events.map((node) => ({ node })), pageInfo: { hasNextPage: auditEvents.hasNextPage, endCursor: auditEvents.endCursor } };
      },
      [call, filter],
    ),
    fail,
  );
  const setEvents = events.setRows;

  // The server sends only the events the filter selects.
  const onLiveEvent = useCallback((event: AuditEvent) => {
    setEvents((shown) => (shown?.some((known) => known.id === event.id) ? shown : [event, ...(shown ?? [])]));
    setFresh((ids) => new Set(ids).add(event.id));
  }, [setEvents]);
  const onLiveError = useCallback(
    (error: unknown) => {
      setLive(false);
      fail(error);
    },
    [fail],
  );
  useAuditTail(live, filter, onLiveEvent, onLiveError);

  const applyFilter = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim() || undefined;
    // datetime-local has no zone: it is the reader's local time, sent as an instant.
    const time = (name: string) => (text(name) ? new Date(text(name)!).toISOString() : undefined);
    setFilter({ action: text('action'), actor: text('actor'), outcome: text('outcome'), from: time('from'), to: time('to') });
  };
  const filtered = Object.values(filter).some(Boolean);

  return (
    <>
      <h1 className="h3">Audit trail</h1>
      <p className="text-body-secondary">Who did what in this tenant, when and from where: every operation, sign-in, refusal and configuration change, in a tamper-evident chain.</p>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not read the audit trail" />
      <AuditVerification />
      <section aria-labelledby="audit-events-title">
        <h2 id="audit-events-title" className="h5">
          Events
        </h2>
        <Form onSubmit={applyFilter} className="mb-3" id="audit-filter" aria-label="Filter the audit trail">
          <Row className="g-2">
            <Col sm={6} lg={3}>
              <Form.Group controlId="audit-action">
                <Form.Label>Action</Form.Label>
                <Form.Control name="action" placeholder="config.*" aria-describedby="audit-action-help" />
                <Form.Text id="audit-action-help">Exact, or a prefix ending in *.</Form.Text>
              </Form.Group>
            </Col>
            <Col sm={6} lg={3}>
              <Form.Group controlId="audit-actor">
                <Form.Label>Actor id</Form.Label>
                <Form.Control name="actor" aria-describedby="audit-actor-help" />
                <Form.Text id="audit-actor-help">A user, API key or issuer#subject.</Form.Text>
              </Form.Group>
            </Col>
            <Col sm={4} lg={2}>
              <Form.Group controlId="audit-outcome">
                <Form.Label>Outcome</Form.Label>
                <Form.Control name="outcome" placeholder="ok" />
              </Form.Group>
            </Col>
            <Col sm={4} lg={2}>
              <Form.Group controlId="audit-from">
                <Form.Label>From</Form.Label>
                <Form.Control name="from" type="datetime-local" />
              </Form.Group>
            </Col>
            <Col sm={4} lg={2}>
              <Form.Group controlId="audit-to">
                <Form.Label>Until</Form.Label>
                <Form.Control name="to" type="datetime-local" />
              </Form.Group>
            </Col>
          </Row>
          <div className="d-flex flex-wrap gap-3 align-items-center mt-2">
            <Button type="submit">Apply filters</Button>
            <Button type="reset" variant="outline-secondary" onClick={() => setFilter({})}>
              Clear
            </Button>
            <Form.Check type="switch" id="audit-live" label="Live tail" checked={live} onChange={(event) => setLive(event.target.checked)} aria-describedby="audit-live-status" />
            <span id="audit-live-status" role="status" className="small text-body-secondary">
              {live ? 'Live: new events appear at the top as they are written.' : ''}
            </span>
          </div>
        </Form>
        <ResourceList list={events} failure={failure} loadingLabel="Loading the audit trail"
          empty={
            <EmptyState id="audit-empty">
              {filtered ? 'No event matches these filters: clear them or widen the time.' : 'No events yet: everything done in this tenant will appear here.'}
            </EmptyState>
          }
        >
          {(rows) => <AuditTable events={rows} fresh={fresh} />}
        </ResourceList>
      </section>
    </>
  );
}

function AuditTable({ events, fresh }: { events: AuditEvent[]; fresh: Set<string> }) {
  return (
    // Focusable, so a keyboard can scroll it where the columns are wider than the screen.
    <div className="table-responsive mb-3" tabIndex={0} role="region" aria-label="Audit events">
      <Table size="sm" hover id="audit-table" className="mb-0">
        <caption className="visually-hidden">Audit events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Outcome</th>
            <th scope="col">Actor</th>
            <th scope="col">Address</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.id} data-action={event.action} data-sequence={event.sequence}>
              <td>
                {formatWhen(event.createdAt)}
                {fresh.has(event.id) ? (
                  <Badge bg="info" text="dark" className="ms-1">
                    new
                  </Badge>
                ) : null}
              </td>
              <td>
                <code>{event.action}</code>
              </td>
              <td>{event.outcome === 'ok' ? 'ok' : <Badge bg="danger">{event.outcome}</Badge>}</td>
              <td title={event.actorId ?? undefined}>{event.actorEmail ?? `${event.actorKind}${event.actorId ? `:${event.actorId}` : ''}`}</td>
              <td>{event.ip ?? ''}</td>
              <td className="audit-details">
                <details>
                  <summary>#{event.sequence}</summary>
                  <pre className="mb-0">{JSON.stringify({ ...event.details, requestId: event.requestId, hash: event.hash }, null, 2)}</pre>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
    </div>
  );
}
