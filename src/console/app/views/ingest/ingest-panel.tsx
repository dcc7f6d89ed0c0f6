/**
 * Ingesting into a dataset: drop files or folders, or choose them; files Sluice cannot read
 * are skipped with a note; the upload shows the bytes sent; then each job shows its live
 * progress (job-card.tsx). The dataset's jobs are read from the API, so the history is the
 * same after a reload, in another tab, or for jobs started by the CLI. A job started while the
 * page is open appears without a reload: elsewhere on the page (a re-embed, from the settings)
 * it bumps `refreshKey` and the newest jobs are read again; anywhere else (the CLI, the API,
 * another tab) the dataset's live feed names it (new-jobs.ts) and it is read by id, so it
 * appears whatever the list shows, in its place by start time. The Options above the
 * drop zone (ingest-options.tsx) go with every upload started here, a re-ingest included.
 * A caller who may not ingest (no DATA_WRITE) gets the jobs alone, read and followed live.
 */
import { useCallback, useEffect, useRef, useState, type DragEvent, type RefObject } from 'react';
import Alert from 'react-bootstrap/Alert';
import Button from 'react-bootstrap/Button';
import { ConsoleIngestFilesDocument, ConsoleIngestionJobsDocument } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatBytes } from '../../format.js';
import { mayRun } from '../../may.js';
import { useSession } from '../../session.js';
import { ACCEPTED_EXTENSIONS, filesOfDrop, named, sortOut, type SkippedFile } from './chosen-files.js';
import { IngestOptions, NO_OPTIONS, optionsToSend, type OptionFields } from './ingest-options.js';
import { JobCard } from './job-card.js';
import type { JobView } from './live-job.js';
import { NamedProgressBar } from './named-progress-bar.js';
import { useNewJobs } from './new-jobs.js';
import { uploadFiles } from './upload.js';

const HISTORY_PAGE = 10;

export function IngestPanel({
  datasetId,
  onJobEnded,
  onReembed,
  ingestRef,
  refreshKey = 0,
}: {
  datasetId: string;
  onJobEnded: () => void;
  /** A re-embed job not seen before, started here or elsewhere: the dataset's embeddings model changed. */
  onReembed?: () => void;
  /** A new value reads the newest jobs again, adding those not shown yet (cards shown keep their live state). */
  refreshKey?: number;
  /** Set to this panel's way in, for files chosen elsewhere on the page (re-ingesting a document). */
  ingestRef?: RefObject<((files: File[]) => void) | null>;
}) {
  const { call, may } = useSession();
  const mayIngest = mayRun(may, ConsoleIngestFilesDocument);
  const [jobs, setJobs] = useState<JobView[] | undefined>();
  const [older, setOlder] = useState<string | null>(null);
  const [upload, setUpload] = useState<{ sent: number; total: number; count: number } | undefined>();
  const [skipped, setSkipped] = useState<SkippedFile[]>([]);
  const [dragging, setDragging] = useState(false);
  const [optionFields, setOptionFields] = useState<OptionFields>(NO_OPTIONS);
  const [failure, fail, dismiss] = useFailure();
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const loadHistory = useCallback(
    async (before?: string, newOnly = false) => {
      try {
        const { ingestionJobs } = await call((client) => client.query(ConsoleIngestionJobsDocument, { datasetId, last: HISTORY_PAGE, before }));
        const page = ingestionJobs.edges.map(({ node }) => ({ ...node, inputs: node.documents })).reverse();
        if (newOnly) {
          // The older pages already read stay, and so does the cursor to the ones before them.
          setJobs((shown) => {
            const known = new Set((shown ?? []).map((job) => job.id));
            return [...page.filter((job) => !known.has(job.id)), ...(shown ?? [])];
          });
          return;
        }
        // An older page may hold a job the live feed added already (an old one still running).
        setJobs((shown) => (before ? [...(shown ?? []), ...page.filter((job) => !shown?.some((other) => other.id === job.id))] : page));
        setOlder(ingestionJobs.pageInfo.hasPreviousPage ? (ingestionJobs.pageInfo.startCursor ?? null) : null);
      } catch (error) {
        fail(error);
      }
    },
    [call, datasetId, fail],
  );
  useEffect(() => void loadHistory(), [loadHistory]);
  useEffect(() => {
    if (refreshKey > 0) void loadHistory(undefined, true);
  }, [loadHistory, refreshKey]);
  const live = useNewJobs(datasetId, {
    shown: (jobId) => jobs?.some((job) => job.id === jobId) ?? false,
    onNewJob: (job) => setJobs((shown) => inPlace(shown ?? [], job)),
    onReembed,
  });

  /** A job started on this page, first in the list (once: the live feed may have added it already). */
  const added = (view: JobView) => setJobs((shown) => [view, ...(shown ?? []).filter((other) => other.id !== view.id)]);

  const ingest = async (files: File[]) => {
    if (files.length === 0 || upload || !mayIngest) return;
    let options;
    try {
      options = optionsToSend(optionFields);
    } catch (error) {
      fail(error);
      return;
    }
    const { accepted, skipped: notReadable } = sortOut(files);
    setSkipped(notReadable);
    if (accepted.length === 0) return;
    const total = accepted.reduce((sum, file) => sum + file.size, 0);
    setUpload({ sent: 0, total, count: accepted.length });
    try {
      const { job, refused } = await call((client) =>
        uploadFiles(client, datasetId, accepted, (sent, bodyTotal) => setUpload({ sent, total: bodyTotal, count: accepted.length }), options),
      );
      setSkipped([...notReadable, ...refused]);
      if (job) {
        const refusedNames = new Set(refused.map((file) => file.name));
        added({ id: job.id, createdAt: job.createdAt, progress: job.progress, inputs: [], names: accepted.map((file) => file.name).filter((name) => !refusedNames.has(name)) });
      }
    } catch (error) {
      fail(error);
    } finally {
      setUpload(undefined);
    }
  };

  if (ingestRef) ingestRef.current = (files) => void ingest(files);

  const chosen = (input: HTMLInputElement | null) => {
    const files = [...(input?.files ?? [])].map((file) => named(file));
    // The same files chosen again are a change too.
    if (input) input.value = '';
    void ingest(files);
  };

  const dropped = async (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    try {
      void ingest(await filesOfDrop(event.dataTransfer));
    } catch (error) {
      fail(error);
    }
  };

  return (
    <section aria-labelledby="ingest-title" className="mt-4" id="ingest">
      <h2 className="h5" id="ingest-title">
        {mayIngest ? 'Ingest files' : 'Ingestion jobs'}
      </h2>
      {mayIngest ? (
        <>
          <IngestOptions value={optionFields} onChange={setOptionFields} disabled={Boolean(upload)} />
          <div
            className={`drop-zone p-3 mb-2 ${dragging ? 'drop-zone-active' : ''}`}
            onDragOver={(event) => {
              event.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={(event) => void dropped(event)}
          >
            <p className="mb-2">
              Drop files or folders here, or choose them. Sluice reads text, Markdown, HTML, JSON, JSON Lines and CSV ({ACCEPTED_EXTENSIONS.join(' ')}); other files are skipped.
            </p>
            <div className="d-flex flex-wrap gap-2">
              <Button variant="primary" disabled={Boolean(upload)} onClick={() => filesInput.current?.click()}>
                Choose files
              </Button>
              <Button variant="outline-primary" disabled={Boolean(upload)} onClick={() => folderInput.current?.click()}>
                Choose a folder
              </Button>
            </div>
            <input ref={filesInput} id="ingest-files" type="file" multiple hidden aria-label="Files to ingest" onChange={(event) => chosen(event.currentTarget)} />
            <input
              ref={folderInput}
              id="ingest-folder"
              type="file"
              multiple
              hidden
              aria-label="A folder to ingest"
              {...({ webkitdirectory: '' } as object)}
              onChange={(event) => chosen(event.currentTarget)}
            />
          </div>
        </>
      ) : null}

      {upload ? (
        <div className="mb-2" id="upload">
          <p className="small mb-1">
            Uploading {upload.count} {upload.count === 1 ? 'file' : 'files'}: {formatBytes(upload.sent)} of {formatBytes(upload.total)}
          </p>
          <NamedProgressBar id="upload-progress" now={upload.total > 0 ? Math.round((upload.sent / upload.total) * 100) : 0} name="Upload" />
        </div>
      ) : null}

      {skipped.length > 0 ? (
        <Alert variant="info" dismissible onClose={() => setSkipped([])} closeLabel="Dismiss this note" id="skipped-files">
          <p className="mb-1">
            Skipped {skipped.length} {skipped.length === 1 ? 'file' : 'files'}:
          </p>
          <ul className="mb-0 small">
            {skipped.map((file) => (
              <li key={file.name}>
                <strong className="text-break">{file.name}</strong>: {file.why}
              </li>
            ))}
          </ul>
        </Alert>
      ) : null}
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not ingest" />
      <ErrorAlert error={live.failure} onDismiss={live.dismissFailure} title="Lost the live list of jobs (jobs started elsewhere appear on a reload)" />

      {mayIngest ? <h3 className="h6 mt-3">Jobs</h3> : null}
      {jobs === undefined ? null : jobs.length === 0 ? (
        <p className="text-body-secondary" id="jobs-empty">
          {mayIngest
            ? 'No jobs yet: drop or choose files above, and each upload becomes a job you can follow here (so does re-embedding, after a new embeddings model).'
            : 'No jobs yet: each ingestion or re-embedding of this dataset shows here as a job.'}
        </p>
      ) : (
        <ul className="list-unstyled mb-2" id="jobs">
          {jobs.map((job) => (
            <JobCard
              key={`${job.id}:${job.generation ?? 0}`}
              initial={job}
              onEnded={onJobEnded}
              datasetId={datasetId}
              onChanged={(changed) => setJobs((shown) => shown?.map((other) => (other.id === changed.id ? changed : other)))}
              onStarted={added}
            />
          ))}
        </ul>
      )}
      {older ? (
        <Button variant="outline-secondary" size="sm" onClick={() => void loadHistory(older)}>
          Older jobs
        </Button>
      ) : null}
    </section>
  );
}

/** `job` among `shown` (newest first) by its start, unless shown already (that card keeps its live state). */
function inPlace(shown: JobView[], job: JobView): JobView[] {
  if (shown.some((other) => other.id === job.id)) return shown;
  const at = shown.findIndex((other) => Date.parse(other.createdAt) < Date.parse(job.createdAt));
  return at < 0 ? [...shown, job] : [...shown.slice(0, at), job, ...shown.slice(at)];
}
