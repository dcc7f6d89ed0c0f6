// @ts-check
/** The datasets panel: the tenant's datasets with their counts, and a form to create one. */
import { clearError, h, showError } from './dom.js';

const DATASETS = `query ConsoleDatasets {
  datasets(first: 100) { edges { node { id name slug documentCount chunkCount } } }
}`;

const CREATE_DATASET = `mutation ConsoleCreateDataset($input: CreateDatasetInput!) {
  createDataset(input: $input) { id slug }
}`;

/**
 * @typedef {{ id: string, name: string, slug: string, documentCount: number, chunkCount: number }} Dataset
 */

/**
 * @param {{
 *   table: HTMLTableElement, empty: HTMLElement, refresh: HTMLButtonElement, form: HTMLFormElement,
 *   errorBox: HTMLElement, api: ReturnType<typeof import('./api.js').createApi>,
 *   onLoaded: (datasets: Dataset[], created?: string) => void,
 * }} options
 */
export function createDatasetsPanel({ table, empty, refresh, form, errorBox, api, onLoaded }) {
  const body = /** @type {HTMLTableSectionElement} */ (table.tBodies[0]);

  /** @param {string} [created] the id of a dataset just created, to select it */
  async function load(created) {
    try {
      const data = await api.request(DATASETS);
      /** @type {Dataset[]} */
      const datasets = data.datasets.edges.map((/** @type {{ node: Dataset }} */ edge) => edge.node);
      body.replaceChildren(
        ...datasets.map((dataset) =>
          h(
            'tr',
            { 'data-slug': dataset.slug },
            h('td', {}, dataset.name),
            h('td', {}, dataset.slug),
            h('td', { class: 'count', 'data-field': 'documents' }, String(dataset.documentCount)),
            h('td', { class: 'count', 'data-field': 'chunks' }, String(dataset.chunkCount)),
          ),
        ),
      );
      empty.hidden = datasets.length > 0;
      onLoaded(datasets, created);
    } catch (error) {
      showError(errorBox, error);
    }
  }

  refresh.addEventListener('click', () => {
    clearError(errorBox);
    void load();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError(errorBox);
    const fields = new FormData(form);
    const name = String(fields.get('name') ?? '').trim();
    const slug = String(fields.get('slug') ?? '').trim() || slugOf(name);
    if (!name) return showError(errorBox, new Error('Give the dataset a name.'));
    try {
      const data = await api.request(CREATE_DATASET, { input: { name, slug } });
      form.reset();
      await load(data.createDataset.id);
    } catch (error) {
      showError(errorBox, error);
    }
  });

  return {
    load,
    clear() {
      body.replaceChildren();
      clearError(errorBox);
    },
  };
}

/**
 * "Support Handbook (2024)" → "support-handbook-2024": what the slug rule accepts.
 * @param {string} name
 */
function slugOf(name) {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
}
