/**
 * Changing an endpoint's retrieval settings (mode, top K, minimum score) in a dialog. A refusal
 * (SEMANTIC or HYBRID over a dataset that does not embed, top K out of range…) is shown in the
 * dialog and stays until dismissed or the dialog is closed.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Modal from 'react-bootstrap/Modal';
import { ConsoleUpdateEndpointDocument, type ConsoleEndpointFieldsFragment, type RetrievalMode } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { useSession } from '../../session.js';
import { RetrievalFields, retrievalFrom } from './retrieval-fields.js';

export function EditRetrieval({ endpoint, onClose, onSaved }: { endpoint: ConsoleEndpointFieldsFragment; onClose: () => void; onSaved: (endpoint: ConsoleEndpointFieldsFragment) => void }) {
  const { call } = useSession();
  const [mode, setMode] = useState<RetrievalMode>(endpoint.retrieval.mode);
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const retrieval = retrievalFrom(new FormData(event.currentTarget), mode);
    setBusy(true);
    try {
      const { updateEndpoint } = await call((client) => client.mutate(ConsoleUpdateEndpointDocument, { id: endpoint.id, input: { retrieval } }));
      onSaved(updateEndpoint);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal show onHide={onClose} aria-labelledby="edit-retrieval-title">
      <Form onSubmit={submit} noValidate id="edit-retrieval-form">
        <Modal.Header closeButton closeLabel="Cancel">
          <Modal.Title id="edit-retrieval-title" as="h2" className="h5">
            Retrieval of “{endpoint.name}”
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          <ErrorAlert error={failure} onDismiss={dismiss} title="Could not change the retrieval settings" />
          <RetrievalFields idPrefix="edit-retrieval" mode={mode} onMode={setMode} topK={endpoint.retrieval.topK} minScore={endpoint.retrieval.minScore} />
          <p className="small mb-0">Served now by the {endpoint.retrieval.engine} engine.</p>
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy}>
            Save retrieval settings
          </Button>
        </Modal.Footer>
      </Form>
    </Modal>
  );
}
