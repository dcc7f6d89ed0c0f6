/**
 * A secret the server shows once (an API key, an invitation token): the value, a copy button,
 * and a reminder that it cannot be shown again. It stays until dismissed.
 */
import { useState, type ReactNode } from 'react';
import Alert from 'react-bootstrap/Alert';
import Button from 'react-bootstrap/Button';
import InputGroup from 'react-bootstrap/InputGroup';
import Form from 'react-bootstrap/Form';

export function ShownOnce({ id, title, value, children, onDismiss }: { id: string; title: string; value: string; children: ReactNode; onDismiss: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      // No clipboard (permission refused, insecure origin): the field stays selectable.
      setCopied('no');
    }
  };
  return (
    <Alert variant="success" dismissible onClose={onDismiss} closeLabel="I have kept it: hide" id={id}>
      <Alert.Heading as="h2" className="h6">
        {title}
      </Alert.Heading>
      <p className="mb-2">{children}</p>
      <InputGroup>
        <Form.Control readOnly value={value} aria-label={title} className="font-monospace" onFocus={(event) => event.currentTarget.select()} />
        <Button variant="success" onClick={() => void copy()}>
          Copy
        </Button>
      </InputGroup>
      <p role="status" className="small mb-0 mt-1">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'The browser refused the clipboard: select the text and copy it.' : ''}
      </p>
    </Alert>
  );
}
