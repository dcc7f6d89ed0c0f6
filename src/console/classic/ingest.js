// @ts-check
/**
 * The ingest panel: files dropped (or chosen) go to `ingestDocuments` as one multipart
 * request; each job then gets a progress bar fed by the `ingestionProgress` subscription
 * until it ends (COMPLETED, FAILED or CANCELLED).
 */
import { clearError, h, showError } from './dom.js';

const INGEST = `mutation ConsoleIngest($datasetId: ID!, $files: [File!]) {
  ingestDocuments(datasetId: $datasetId, files: $files) { id stage }
}`;

const PROGRESS = `subscription ConsoleProgress($jobId: ID!) {
  ingestionProgress(jobId: $jobId) {
    stage status percent documentsDone documentsTotal documentsFailed chunksDone error sequence
    documents { index name status outcome documents chunks error }
  }
}`;

const ENDED = ['COMPLETED', 'FAILED', 'CANCELLED'];

/**
 * @param {{
 *   dropZone: HTMLElement, fileInput: HTMLInputElement, datasetSelect: HTMLSelectElement,
 *   jobs: HTMLElement, announcer: HTMLElement, errorBox: HTMLElement,
 *   api: ReturnType<typeof import('./api.js').createApi>, onJobEnded: () => void,
 * }} options
 */
export function createIngestPanel({ dropZone, fileInput, datasetSelect, jobs, announcer, errorBox, api, onJobEnded }) {
  /** @type {Set<() => void>} */
  const watching = new Set();

  /** @param {File[]} files */
  async function ingest(files) {
    clearError(errorBox);
    const datasetId = datasetSelect.value;
    if (!datasetId) return showError(errorBox, new Error('Create or choose a dataset first.'));
    if (files.length === 0) return;
    const title = files.map((file) => file.name).join(', ');
    try {
      const data = await api.upload(INGEST, { datasetId }, 'files', files);
      watch(data.ingestDocuments.id, title);
    } catch (error) {
      showError(errorBox, error);
    }
  }

  /**
   * @param {string} jobId
   * @param {string} title
   */
  function watch(jobId, title) {
    const view = jobView(title);
    jobs.prepend(view.item);
    /** @type {string | undefined} */
    let stage;
    const stop = api.subscribe(PROGRESS, { jobId }, {
      next: ({ ingestionProgress: progress }) => {
        view.update(progress);
        if (progress.stage !== stage) announcer.textContent = `${title}: ${progress.stage.toLowerCase()}, ${Math.floor(progress.percent)} %`;
        stage = progress.stage;
      },
      error: (error) => {
        watching.delete(stop);
        showError(view.errorBox, error);
      },
      complete: () => {
        watching.delete(stop);
        if (stage && ENDED.includes(stage)) onJobEnded();
      },
    });
    watching.add(stop);
  }

  fileInput.addEventListener('change', () => {
    void ingest([...(fileInput.files ?? [])]);
    // The same file chosen again is a change too.
    fileInput.value = '';
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    void ingest([...(event.dataTransfer?.files ?? [])]);
  });
  // A file dropped beside the zone must not make the browser navigate away to open it.
  for (const type of ['dragover', 'drop']) window.addEventListener(type, (event) => event.preventDefault());

  return {
    /**
     * @param {{ id: string, name: string, slug: string }[]} datasets
     * @param {string} [select] the id to select
     */
    setDatasets(datasets, select) {
      const current = select ?? datasetSelect.value;
      datasetSelect.replaceChildren(...datasets.map((dataset) => h('option', { value: dataset.id }, `${dataset.name} (${dataset.slug})`)));
      if (datasets.some((dataset) => dataset.id === current)) datasetSelect.value = current;
    },
    clear() {
      for (const stop of watching) stop();
      watching.clear();
      jobs.replaceChildren();
      announcer.textContent = '';
      clearError(errorBox);
    },
  };
}

/**
 * One job's list item: title, stage, a <progress> bar, counts, and each input's outcome.
 * @param {string} title
 */
function jobView(title) {
  const stageText = h('span', { class: 'job-stage' }, 'QUEUED');
  const bar = /** @type {HTMLProgressElement} */ (h('progress', { max: 100, value: 0, 'aria-label': `Progress of ${title}` }));
  const counts = h('p', { class: 'job-counts' }, 'Waiting for a worker…');
  const outcomes = h('ul', { class: 'job-documents' });
  const errorBox = h('div', { class: 'error', role: 'alert' });
  const item = h('li', { class: 'job', 'data-stage': 'QUEUED' }, h('div', { class: 'job-head' }, h('span', { class: 'job-title' }, title), stageText), bar, counts, outcomes, errorBox);
  /** @type {Map<number, HTMLElement>} by input index, so a replayed outcome replaces its line */
  const lines = new Map();

  return {
    item,
    errorBox,
    /** @param {any} progress an IngestionProgress event */
    update(progress) {
      item.dataset.stage = progress.stage;
      // The status, not the stage: a job with a failed input ends COMPLETED_WITH_FAILURES, not a green COMPLETED.
      item.dataset.status = progress.status;
      stageText.textContent = progress.status === 'COMPLETED_WITH_FAILURES' ? progress.status : progress.stage;
      // Floor, so a bar never shows 100 % before the job is done.
      const percent = Math.min(100, Math.floor(progress.percent));
      bar.value = percent;
      bar.setAttribute('aria-valuetext', `${percent} %`);
      const failed = progress.documentsFailed > 0 ? `, ${progress.documentsFailed} failed` : '';
      counts.textContent = `${percent} % · ${progress.documentsDone} of ${progress.documentsTotal} inputs${failed} · ${count(progress.chunksDone, 'chunk')}`;
      for (const input of progress.documents) {
        const what = input.error ? `${input.status}: ${input.error}` : `${(input.outcome ?? input.status).toLowerCase()}, ${count(input.documents, 'document')}, ${count(input.chunks, 'chunk')}`;
        const line = h('li', {}, `${input.name}: ${what}`);
        const previous = lines.get(input.index);
        if (previous) previous.replaceWith(line);
        else outcomes.append(line);
        lines.set(input.index, line);
      }
      if (progress.error) showError(errorBox, new Error(progress.error));
    },
  };
}

/** "1 chunk", "3 chunks". @param {number} n @param {string} noun */
function count(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
