/**
 * One ingestion job: its status (a job whose inputs partly failed says so, in amber, never a
 * green "completed"), its stage and progress bar, documents, chunks, MB/s and ETA while it
 * runs, and each failed input named with its reason. The bar and the bytes shown are the
 * job's processed bytes, which move while a large input is parsed and chunked, not only when
 * an input is settled (docs/ingestion.md, "Progress"). A re-embed job (the dataset's
 * embeddings model changed) has no inputs: it shows the chunks embedded of those to embed.
 * Cancel and retry (a re-embed job's retry starts a new one): job-actions.tsx.
 */
import Badge from 'react-bootstrap/Badge';
import Card from 'react-bootstrap/Card';
import { ErrorAlert } from '../../error-alert.js';
import { formatBytes, formatWhen } from '../../format.js';
import { JobActions, type JobActionsProps } from './job-actions.js';
import { NamedProgressBar } from './named-progress-bar.js';
import { hasEnded, useLiveJob, type JobView } from './live-job.js';

const STATUS: Record<string, { label: string; variant: string }> = {
  QUEUED: { label: 'Queued', variant: 'secondary' },
  RUNNING: { label: 'Running', variant: 'primary' },
  COMPLETED: { label: 'Completed', variant: 'success' },
  COMPLETED_WITH_FAILURES: { label: 'Completed with failures', variant: 'warning' },
  FAILED: { label: 'Failed', variant: 'danger' },
  CANCELLED: { label: 'Cancelled', variant: 'secondary' },
};

const REASONS: Record<string, string> = {
  PARSE_ERROR: 'not valid for its format',
  PARSE_LIMIT: 'over a structural limit',
  PARSE_TIMEOUT: 'took too long to parse',
  PARSE_MEMORY: 'needed too much memory to parse',
};

export function JobCard({ initial, onEnded, ...actions }: JobActionsProps & { initial: JobView; onEnded: (job: JobView) => void }) {
  const { job, failure, dismissFailure } = useLiveJob(initial, onEnded);
  const { progress } = job;
  const status = STATUS[progress.status] ?? { label: progress.status, variant: 'secondary' };
  const ended = hasEnded(job);
  const failed = job.inputs.filter((input) => input.status === 'FAILED');
  const names = job.inputs.length > 0 ? job.inputs.map((input) => input.name) : (job.names ?? []);
  const rate = ended ? averageRate(job) : job.bytesPerSecond;
  const reembed = progress.kind === 'REEMBED';
  // An ingest job's bytes are done before it embeds: while it does, the bar and figures follow the chunks.
  const embedding = !reembed && progress.stage === 'EMBEDDING' && progress.chunksToEmbed > 0;
  const barValue = embedding ? Math.round((1000 * progress.chunksEmbedded) / progress.chunksToEmbed) / 10 : progress.percent;
  const title = reembed ? 'Re-embedding the chunks' : names.length === 0 ? 'Job' : names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;

  return (
    <Card as="li" className="mb-2 job-card" data-job-id={job.id} data-status={progress.status}>
      <Card.Body>
        <div className="d-flex flex-wrap align-items-baseline gap-2">
          <h3 className="h6 mb-0 me-auto text-break">{title}</h3>
          <Badge bg={status.variant} text={status.variant === 'warning' ? 'dark' : undefined} className="job-status">
            {status.label}
          </Badge>
        </div>
        <p className="small text-body-secondary mb-1">Started {formatWhen(job.createdAt)}</p>
        <NamedProgressBar
          now={barValue}
          name={`Progress of ${title}`}
          variant={status.variant === 'primary' || status.variant === 'secondary' ? undefined : status.variant}
          animated={!ended}
          className="mb-1 job-progress"
        />
        {reembed ? (
          <p className="small mb-0 job-figures" aria-live="polite">
            <span className="job-stage">{progress.stage.toLowerCase()}</span> · {progress.percent} % · chunks embedded {progress.chunksEmbedded} of {progress.chunksToEmbed}
          </p>
        ) : (
          <p className="small mb-0 job-figures" aria-live="polite">
            <span className="job-stage">{progress.stage.toLowerCase()}</span> · {progress.percent} % · documents {progress.documentsDone} of {progress.documentsTotal} · chunks{' '}
            {progress.chunksDone} · {formatBytes(progress.bytesProcessed)} of {formatBytes(progress.bytesTotal)}
            {rate ? ` · ${(rate / 1_000_000).toFixed(2)} MB/s` : ''}
            {!ended && progress.etaSeconds !== null ? ` · ETA ${formatEta(progress.etaSeconds)}` : ''}
            {embedding ? ` · chunks embedded ${progress.chunksEmbedded} of ${progress.chunksToEmbed}` : ''}
          </p>
        )}
        {progress.error ? <p className={`small mb-0 job-error ${progress.errorReason === 'SUPERSEDED' ? 'text-body-secondary' : 'text-danger'}`}>{progress.error}</p> : null}
        {failed.length > 0 ? (
          <div className="mt-2">
            <p className="small fw-semibold mb-1">
              {failed.length} of {progress.documentsTotal} {progress.documentsTotal === 1 ? 'input' : 'inputs'} failed:
            </p>
            <ul className="small mb-0 failed-inputs">
              {failed.map((input) => (
                <li key={input.index}>
                  <strong className="text-break">{input.name}</strong>: {input.reason ? `${REASONS[input.reason] ?? input.reason} (${input.reason})` : 'failed'}
                  {input.error ? ` — ${input.error}` : ''}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        <JobActions job={job} title={title} {...actions} />
        <ErrorAlert error={failure} onDismiss={dismissFailure} title="Lost this job’s progress (reload to see where it is)" />
      </Card.Body>
    </Card>
  );
}

/** An ended job's rate over its whole run, when its times are known. */
function averageRate(job: JobView): number | null | undefined {
  if (!job.startedAt || !job.finishedAt) return job.bytesPerSecond;
  const seconds = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;
  return seconds > 0 ? job.progress.bytesTotal / seconds : job.bytesPerSecond;
}

function formatEta(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${seconds % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
