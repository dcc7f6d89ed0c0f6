/** Asking before a destructive action: a dialog that names what happens, with a way out. */
import type { ReactNode } from 'react';
import Button from 'react-bootstrap/Button';
import Modal from 'react-bootstrap/Modal';

export function Confirm({
  title,
  children,
  confirmLabel,
  keepLabel = 'Cancel',
  onConfirm,
  onCancel,
}: {
  /** Shown only while set: the question ("Revoke “ci”?"). */
  title: string | undefined;
  children: ReactNode;
  confirmLabel: string;
  keepLabel?: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal show={title !== undefined} onHide={onCancel} aria-labelledby="confirm-title">
      <Modal.Header closeButton closeLabel="Close">
        <Modal.Title id="confirm-title" as="h2" className="h5">
          {title}
        </Modal.Title>
      </Modal.Header>
      <Modal.Body>{children}</Modal.Body>
      <Modal.Footer>
        <Button variant="secondary" onClick={onCancel}>
          {keepLabel}
        </Button>
        <Button variant="danger" onClick={onConfirm}>
          {confirmLabel}
        </Button>
      </Modal.Footer>
    </Modal>
  );
}
