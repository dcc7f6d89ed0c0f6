/**
 * What can be done to one job from its card: cancel it while it has not ended (asks first: the
 * input in progress finishes, the rest are not ingested until retried), and retry the failed and
 * cancelled inputs of a job that ended with some. Either way the card is handed the job as the
 * API now has it, and follows it live again (job-card.tsx, live-job.ts). A re-embed job has no
 * inputs, and a job that failed in its EMBEDDING stage with all its inputs indexed has none to
 * run again: their retry (`reembedDataset`) starts a new job for the chunks left, which
 * `onStarted` adds to the panel (`retryIngestion` refuses such a job). One that failed there
 * with failed inputs too is retried as any other: its EMBEDDING stage runs again after them.
 * Each is offered only to a caller who may run it (may.ts).
 */
import { useState } from 'react';
import Button from 'react-bootstrap/Button';
import { ConsoleCancelJobDocument, ConsoleReembedDatasetDocument, ConsoleRetryJobDocument } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { mayRun } from '../../may.js';
import { useSession } from '../../session.js';
import { Confirm } from '../govern/confirm.js';
import { hasEnded, type JobView } from './live-job.js';

/** Ended with inputs that did not make it: what `retryIngestion` accepts. */
const RETRYABLE = ['COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED'];

export interface JobActionsProps {
  /** The job's dataset, for a re-embed job's retry. */
  datasetId: string;
  onChanged: (job: JobView) => void;
  /** A new job started from the card (a re-embed job retried). */
  onStarted: (job: JobView) => void;
}

export function JobActions({ job, title, datasetId, onChanged, onStarted }: JobActionsProps & { job: JobView; title: string }) {
  const { call, may } = useSession();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, fail, dismiss] = useFailure();
  const [failedAction, setFailedAction] = useState('');
  const generation = (job.generation ?? 0) + 1;

  const run = async (action: string, change: () => Promise<JobView>, then = onChanged) => {
    setBusy(true);
    dismiss();
    try {
      then(await change());
    } catch (error) {
      setFailedAction(action);
      fail(error);
    } finally {
      setBusy(false);
    }
  };
  const cancel = () => {
    setAsking(false);
    void run('cancel', async () => {
      const { cancelIngestion } = await call((client) => client.mutate(ConsoleCancelJobDocument, { jobId: job.id }));
      return { ...job, progress: cancelIngestion.progress, generation };
    });
  };
  const retry = () =>
    void run('retry', async () => {
      const { retryIngestion } = await call((client) => client.mutate(ConsoleRetryJobDocument, { jobId: job.id }));
      const { documents, ...retried } = retryIngestion;
      return { ...retried, names: job.names, inputs: documents, generation };
    });
  const reembed = () =>
    void run(
      'retry',
      async () => {
        const { reembedDataset } = await call((client) => client.mutate(ConsoleReembedDatasetDocument, { datasetId }));
        return { ...reembedDataset, inputs: [] };
      },
      onStarted,
    );

  const ended = hasEnded(job);
  // A re-embed job overtaken by a later model change: the job that change queued does the work.
  const retryable = RETRYABLE.includes(job.progress.status) && job.progress.errorReason !== 'SUPERSEDED';
  // Failed in EMBEDDING with every input indexed: the chunks left are reembedDataset's. With
  // failed inputs too, retryIngestion runs them again and its EMBEDDING stage embeds every chunk
  // left, so the card offers that (reembedDataset would leave the inputs failed).
  const reembedding = job.progress.kind === 'REEMBED' || (Boolean(job.progress.errorReason?.startsWith('EMBEDDING_')) && job.progress.documentsFailed === 0);
  const offered = ended ? retryable && mayRun(may, reembedding ? ConsoleReembedDatasetDocument : ConsoleRetryJobDocument) : mayRun(may, ConsoleCancelJobDocument);
  if (!offered && failure === undefined) return null;
  return (
    <div className="mt-2 job-actions">
      {!offered ? null : !ended ? (
        <Button size="sm" variant="outline-danger" disabled={busy} onClick={() => setAsking(true)}>
          Cancel job
        </Button>
      ) : retryable ? (
        <Button size="sm" variant="outline-primary" disabled={busy} onClick={reembedding ? reembed : retry}>
          {reembedding ? 'Retry: embed the chunks left' : 'Retry failed inputs'}
        </Button>
      ) : null}
      <ErrorAlert error={failure} onDismiss={dismiss} title={failedAction === 'cancel' ? 'Could not cancel the job' : 'Could not retry the job'} />
      <Confirm title={asking ? `Cancel “${title}”?` : undefined} confirmLabel="Cancel job" keepLabel="Keep it running" onConfirm={cancel} onCancel={() => setAsking(false)}>
        The input being ingested now finishes; the others are not ingested. You can retry them afterwards.
      </Confirm>
    </div>
  );
}
