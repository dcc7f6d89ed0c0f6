/**
 * Usage over time: queries, tokens, cost and refusals per hour or day, split by endpoint or by
 * caller, for a chosen range (the API's `usageOverTime`, bucketed in SQL; ADMIN).
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Form from 'react-bootstrap/Form';
import Spinner from 'react-bootstrap/Spinner';
import { Link } from 'react-router';
import { UsageOverTimeDocument, type UsageSeriesGrouping } from '../../../../sdk/index.js';
import { readTenantCallers } from '../../callers.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';
import { bucketLabel, bucketsOf, METRICS, RANGES, seriesOf, type CallerNames, type UsagePoint } from './timeline.js';
import { UsageChart } from './usage-chart.js';

export function Usage() {
  const { call } = useSession();
  const [rangeId, setRangeId] = useState('24h');
  const [by, setBy] = useState<UsageSeriesGrouping>('ENDPOINT');
  const [loaded, setLoaded] = useState<{ points: UsagePoint[]; starts: Date[] } | undefined>();
  const [busy, setBusy] = useState(false);
  const [names, setNames] = useState<CallerNames>(new Map());
  const [failure, fail, dismiss] = useFailure();
  const choice = RANGES.find((range) => range.id === rangeId) ?? RANGES[0]!;

  const load = useCallback(async () => {
    const { starts, from, to } = bucketsOf(choice);
    setBusy(true);
    try {
      const variables = { range: { from: from.toISOString(), to: to.toISOString() }, interval: choice.interval, by };
      const { usageOverTime } = await call((client) => client.query(UsageOverTimeDocument, variables));
      setLoaded({ points: usageOverTime, starts });
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  }, [call, fail, choice, by]);
  useEffect(() => void load(), [load]);

  // Callers by name (members' emails, API keys' names) once split by caller; unnamed ones keep their key.
  useEffect(() => {
    if (by !== 'CALLER') return;
    call(readTenantCallers).then(
      ({ members, apiKeys }) => {
        const known: CallerNames = new Map();
        for (const [id, email] of members) known.set(`user:${id}`, email);
        for (const [id, key] of apiKeys) known.set(`apiKey:${id}`, `${key.name} (${key.prefix}…)`);
        setNames(known);
      },
      // Names are a convenience: without them the keys are shown, and the charts are still right.
      () => undefined,
    );
  }, [by, call]);

  const labels = useMemo(() => loaded?.starts.map((start) => bucketLabel(start, choice.interval)) ?? [], [loaded, choice.interval]);

  return (
    <>
      <h1 className="h3">Usage</h1>
      <p className="text-body-secondary">
        What your endpoints were asked, by whom, what it cost, and what the policies refused. Times are UTC; the busiest eight series are drawn, the rest summed as “(other)”.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not load usage" />
      <Form className="d-flex flex-wrap gap-3 align-items-end mb-3" onSubmit={(event) => event.preventDefault()} aria-label="Usage range and split">
        <Form.Group controlId="usage-range">
          <Form.Label>Range</Form.Label>
          <Form.Select value={rangeId} onChange={(event) => setRangeId(event.target.value)}>
            {RANGES.map((range) => (
              <option key={range.id} value={range.id}>
                {range.label}
              </option>
            ))}
          </Form.Select>
        </Form.Group>
        <Form.Group controlId="usage-by">
          <Form.Label>Split by</Form.Label>
          <Form.Select value={by} onChange={(event) => setBy(event.target.value as UsageSeriesGrouping)}>
            <option value="ENDPOINT">Endpoint</option>
            <option value="CALLER">Caller</option>
          </Form.Select>
        </Form.Group>
        <Button variant="outline-secondary" onClick={() => void load()} disabled={busy}>
          Refresh
        </Button>
        {busy ? (
          <Spinner animation="border" role="status" size="sm">
            <span className="visually-hidden">Loading usage</span>
          </Spinner>
        ) : null}
      </Form>
      {loaded === undefined ? null : loaded.points.length === 0 ? (
        <Card body className="mb-4 empty-state" id="usage-empty">
          <strong>No queries in this range.</strong> Publish an endpoint and ask it (in the <Link to="/playground">playground</Link>, say), or choose a longer range.
        </Card>
      ) : (
        METRICS.map((metric) => <UsageChart key={metric.id} metric={metric} labels={labels} series={seriesOf(loaded.points, loaded.starts, metric)} names={names} />)
      )}
    </>
  );
}
