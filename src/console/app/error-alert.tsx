/**
 * A failure, said as the API said it (message, code, request id, each invalid field). It stays
 * until the user dismisses it or a newer failure replaces it: a message that vanishes on its
 * own is easy to miss.
 */
import { useCallback, useState } from 'react';
import Alert from 'react-bootstrap/Alert';
import { describeError } from './sluice.js';

export function useFailure(): [unknown, (error: unknown) => void, () => void] {
  const [failure, setFailure] = useState<unknown>();
  const dismiss = useCallback(() => setFailure(undefined), []);
  return [failure, setFailure, dismiss];
}

export function ErrorAlert({ error, onDismiss, title = 'That did not work' }: { error: unknown; onDismiss: () => void; title?: string }) {
  if (error === undefined) return null;
  const { message, code, requestId, details } = describeError(error);
  return (
    <Alert variant="danger" dismissible onClose={onDismiss} role="alert" closeLabel="Dismiss this error">
      <Alert.Heading as="h2" className="h6">
        {title}
      </Alert.Heading>
      <p className="mb-1">
        {message}
        {code ? <span className="ms-1 badge text-bg-danger">{code}</span> : null}
      </p>
      {details.length > 0 ? (
        <ul className="mb-1">
          {details.map((detail) => (
            <li key={detail}>{detail}</li>
          ))}
        </ul>
      ) : null}
      {requestId ? <p className="small mb-0">Request id: {requestId}</p> : null}
    </Alert>
  );
}
