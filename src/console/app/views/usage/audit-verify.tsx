/**
 * Chain verification on demand: the server recomputes every hash and link of the tenant's
 * audit chain (`verifyAuditChain`, ADMIN) and the result is shown as it came: intact with the
 * number of events checked and any recorded rewrite, or broken at which event and why.
 */
import { useState } from 'react';
import Alert from 'react-bootstrap/Alert';
import Button from 'react-bootstrap/Button';
import { AuditChainCheckDocument, type AuditChainCheckQuery } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';

type Verification = AuditChainCheckQuery['verifyAuditChain'];

export function AuditVerification() {
  const { call } = useSession();
  const [result, setResult] = useState<{ verification: Verification; at: Date } | undefined>();
  const [busy, setBusy] = useState(false);
  const [failure, fail, dismiss] = useFailure();

  const verify = async () => {
    setBusy(true);
    try {
      const { verifyAuditChain } = await call((client) => client.query(AuditChainCheckDocument, {}));
      setResult({ verification: verifyAuditChain, at: new Date() });
      dismiss();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="audit-verify-title" className="mb-4">
      <h2 id="audit-verify-title" className="h5">
        Chain verification
      </h2>
      <p className="text-body-secondary mb-2">
        Each event carries the hash of the one before it. Verifying recomputes every hash and link of your tenant’s chain on the server, so an edited, removed or inserted event shows.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not verify the chain" />
      <Button variant="outline-primary" onClick={() => void verify()} disabled={busy} className="mb-2">
        {busy ? 'Verifying…' : 'Verify the chain'}
      </Button>
      <div role="status" id="audit-verification">
        {result ? <VerificationResult verification={result.verification} at={result.at} /> : null}
      </div>
    </section>
  );
}

function VerificationResult({ verification, at }: { verification: Verification; at: Date }) {
  const when = at.toLocaleTimeString();
  if (!verification.ok) {
    return (
      <Alert variant="danger" className="mb-0" data-ok="false">
        <strong>The chain is broken.</strong> {verification.problem ?? 'A hash or link does not match.'}
        {verification.firstBrokenEventId ? (
          <>
            {' '}
            First broken event: <code>{verification.firstBrokenEventId}</code>.
          </>
        ) : null}{' '}
        {verification.checked} events checked at {when}.
      </Alert>
    );
  }
  return (
    <Alert variant="success" className="mb-0" data-ok="true">
      <strong>The chain is intact:</strong> <span data-field="checked">{verification.checked}</span> events checked at {when}, every hash and link recomputed.
      {verification.rewrites.length > 0 ? (
        <div className="mt-2">
          Recorded rewrites (a migration removed what should never have been stored; see the audit docs):
          <ul className="mb-0">
            {verification.rewrites.map((rewrite) => (
              <li key={rewrite.eventId}>
                event <code>{rewrite.eventId}</code>: head <code>{rewrite.previousHeadHash.slice(0, 16)}…</code> became <code>{rewrite.rewrittenHeadHash.slice(0, 16)}…</code>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </Alert>
  );
}
