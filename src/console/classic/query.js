// @ts-check
/**
 * The query panel: asks an endpoint with the `endpointQuery` subscription and shows what
 * streams back: each passage as it is retrieved, the answer piece by piece, then usage and
 * latency (or the failure that ended it).
 */
import { clearError, h, highlighted, showError } from './dom.js';

const ENDPOINTS = `query ConsoleEndpoints { endpoints(first: 100) { edges { node { name reference } } } }`;

const ENDPOINT_QUERY = `subscription ConsoleEndpointQuery($endpoint: String!, $query: String!) {
  endpointQuery(endpoint: $endpoint, query: $query) {
    __typename
    ... on EndpointQueryRetrieved { passage { rank documentTitle score highlight } }
    ... on EndpointQueryAnswerDelta { text }
    ... on EndpointQueryUsage { usage { promptTokens completionTokens totalTokens } }
    ... on EndpointQueryCompleted { latencyMs citations { marker } }
    ... on EndpointQueryFailed { code message }
  }
}`;

/**
 * @param {{
 *   form: HTMLFormElement, endpoint: HTMLInputElement, endpointList: HTMLDataListElement,
 *   stopButton: HTMLButtonElement, answer: HTMLElement, passages: HTMLElement, status: HTMLElement,
 *   errorBox: HTMLElement, api: ReturnType<typeof import('./api.js').createApi>, tenantSlug: () => string | undefined,
 * }} options
 */
export function createQueryPanel({ form, endpoint, endpointList, stopButton, answer, passages, status, errorBox, api, tenantSlug }) {
  /** @type {(() => void) | undefined} */
  let stop;
  /** @type {string | undefined} */
  let usage;

  /** @param {string} text */
  function finish(text) {
    stop = undefined;
    stopButton.disabled = true;
    answer.setAttribute('aria-busy', 'false');
    status.textContent = text;
  }

  /** @param {any} event an EndpointQueryEvent */
  function show(event) {
    switch (event.__typename) {
      case 'EndpointQueryRetrieved': {
        const { rank, documentTitle, score, highlight } = event.passage;
        passages.append(
          h('li', { value: rank }, h('span', { class: 'passage-title' }, documentTitle), h('span', { class: 'passage-score' }, `score ${score.toFixed(3)}`), h('div', {}, ...highlighted(highlight))),
        );
        break;
      }
      case 'EndpointQueryAnswerDelta':
        answer.append(event.text);
        break;
      case 'EndpointQueryUsage':
        usage = `${event.usage.totalTokens} tokens (${event.usage.promptTokens} prompt, ${event.usage.completionTokens} completion)`;
        break;
      case 'EndpointQueryCompleted':
        finish(`Answered in ${event.latencyMs} ms · ${event.citations.length} citation(s)${usage ? ` · ${usage}` : ''}`);
        break;
      case 'EndpointQueryFailed':
        showError(errorBox, { message: event.message, code: event.code });
        finish('The query failed.');
        break;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    stop?.();
    clearError(errorBox);
    const fields = new FormData(form);
    let reference = String(fields.get('endpoint') ?? '').trim();
    const question = String(fields.get('question') ?? '').trim();
    // A bare endpoint slug means one of your own tenant's.
    if (reference && !reference.includes('/') && tenantSlug()) reference = `${tenantSlug()}/${reference}`;
    if (!/^[^/\s]+\/[^/\s]+$/.test(reference)) return showError(errorBox, new Error('Name the endpoint as tenant/endpoint, e.g. acme/handbook.'));
    if (!question) return showError(errorBox, new Error('Type a question.'));
    answer.replaceChildren();
    passages.replaceChildren();
    usage = undefined;
    answer.setAttribute('aria-busy', 'true');
    status.textContent = 'Asking…';
    stopButton.disabled = false;
    stop = api.subscribe(ENDPOINT_QUERY, { endpoint: reference, query: question }, {
      next: (data) => show(data.endpointQuery),
      error: (error) => {
        showError(errorBox, error);
        finish('');
      },
      complete: () => {
        if (stop) finish(status.textContent === 'Asking…' ? 'Done.' : status.textContent ?? '');
      },
    });
  });

  stopButton.addEventListener('click', () => {
    stop?.();
    finish('Stopped.');
  });

  return {
    async loadEndpoints() {
      try {
        const data = await api.request(ENDPOINTS);
        const references = data.endpoints.edges.map((/** @type {any} */ edge) => edge.node);
        endpointList.replaceChildren(...references.map((/** @type {any} */ node) => h('option', { value: node.reference }, node.name)));
        if (!endpoint.value && references.length > 0) endpoint.value = references[0].reference;
      } catch (error) {
        showError(errorBox, error);
      }
    },
    clear() {
      stop?.();
      finish('');
      answer.replaceChildren();
      passages.replaceChildren();
      endpointList.replaceChildren();
      endpoint.value = '';
      clearError(errorBox);
    },
  };
}
