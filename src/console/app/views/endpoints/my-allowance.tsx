/**
 * Your own use of an endpoint (`myUsage`, docs/policies.md): queries, refusals, tokens and
 * charges, and what is left of each limit its policies set on you, with when the oldest counted
 * use leaves the window. The playground shows it after each question, so a caller sees a rate
 * limit or quota coming before it refuses them.
 */
import { useEffect, useState } from 'react';
import Table from 'react-bootstrap/Table';
import { MyUsageDocument, type MyUsageQuery } from '../../../../sdk/index.js';
import { formatWhen } from '../../format.js';
import { useSession } from '../../session.js';

type MyUsage = MyUsageQuery['myUsage'];

/** `asked`: changes with each question, so the figures are read again after it. */
export function MyAllowance({ reference, asked }: { reference: string; asked: number }) {
  const { call } = useSession();
  const [usage, setUsage] = useState<MyUsage | undefined>();
  const [unreadable, setUnreadable] = useState<string | undefined>();

  useEffect(() => {
    let current = true;
    call((client) => client.query(MyUsageDocument, { endpoint: reference }))
      .then(({ myUsage }) => {
        if (!current) return;
        setUsage(myUsage);
        setUnreadable(undefined);
      })
      .catch((error: unknown) => {
        if (current) setUnreadable(error instanceof Error ? error.message : String(error));
      });
    return () => {
      current = false;
    };
  }, [call, reference, asked]);

  if (unreadable) return <p className="small text-body-secondary">Your use of {reference} could not be read: {unreadable}</p>;
  if (!usage) return null;
  return (
    <section aria-labelledby="my-usage-title" className="mb-4" id="my-usage">
      <h2 id="my-usage-title" className="h6">
        Your use of {reference}
      </h2>
      <p className="small mb-2">
        {usage.queries} {usage.queries === 1 ? 'question' : 'questions'}, {usage.denials} refused, {usage.totalTokens} tokens
        {usage.chargedMicros ? `, charged ${usage.chargedMicros} micro-units` : ''}.
      </p>
      {usage.allowances.length === 0 ? (
        <p className="small text-body-secondary mb-0">No rate limit or quota applies to you here.</p>
      ) : (
        <Table size="sm" responsive className="small" aria-label="Your limits on this endpoint">
          <thead>
            <tr>
              <th scope="col">Limit</th>
              <th scope="col">Used</th>
              <th scope="col">Left</th>
              <th scope="col">Frees up</th>
            </tr>
          </thead>
          <tbody>
            {usage.allowances.map((allowance, index) => (
              // Another tenant's caller is not told the policy's id (docs/policies.md): the order is stable.
              <tr key={allowance.policyId ?? index}>
                <td>
                  {allowance.limit} {allowance.unit === 'QUERIES' ? 'questions' : 'micro-units'} per {period(allowance.periodSeconds)} ({allowance.policyType})
                </td>
                <td>{allowance.used}</td>
                <td>{allowance.remaining}</td>
                <td>{formatWhen(allowance.freesAt) ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </section>
  );
}

function period(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? 'day' : `${seconds / 86_400} days`;
  if (seconds % 3_600 === 0) return seconds === 3_600 ? 'hour' : `${seconds / 3_600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? 'minute' : `${seconds / 60} minutes`;
  return seconds === 1 ? 'second' : `${seconds} seconds`;
}
