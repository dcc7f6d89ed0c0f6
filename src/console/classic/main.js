// @ts-check
/**
 * The console's entry: builds the panels and switches between signed out (the sign-in form)
 * and signed in (datasets, ingestion, queries).
 */
import { createApi } from './api.js';
import { createDatasetsPanel } from './datasets.js';
import { byId, showError } from './dom.js';
import { createIngestPanel } from './ingest.js';
import { createQueryPanel } from './query.js';
import { logOut, restoreSession, saveSession, wireSignIn } from './session.js';

/** @type {import('./session.js').Session | undefined} */
let session;

const signInSection = byId('sign-in');
const signInError = byId('sign-in-error');
const workspace = byId('workspace');
const whoami = byId('whoami');
const signOutButton = /** @type {HTMLButtonElement} */ (byId('sign-out'));

const api = createApi({
  token: () => session?.accessToken,
  onUnauthenticated: (error) => {
    signOut();
    showError(signInError, { message: `Your session ended: sign in again. ${error.message}`, code: error.code });
  },
});

const ingest = createIngestPanel({
  dropZone: byId('drop-zone'),
  fileInput: byId('file-input'),
  datasetSelect: byId('upload-dataset'),
  jobs: byId('jobs'),
  announcer: byId('progress-announcer'),
  errorBox: byId('ingest-error'),
  api,
  onJobEnded: () => void datasets.load(),
});

const datasets = createDatasetsPanel({
  table: byId('datasets'),
  empty: byId('datasets-empty'),
  refresh: byId('datasets-refresh'),
  form: byId('create-dataset-form'),
  errorBox: byId('datasets-error'),
  api,
  onLoaded: (list, created) => ingest.setDatasets(list, created),
});

const query = createQueryPanel({
  form: byId('query-form'),
  endpoint: byId('endpoint'),
  endpointList: byId('endpoint-list'),
  stopButton: byId('stop'),
  answer: byId('answer'),
  passages: byId('passages'),
  status: byId('query-status'),
  errorBox: byId('query-error'),
  api,
  tenantSlug: () => session?.tenant.slug,
});

/** @param {import('./session.js').Session} signedIn */
function signIn(signedIn) {
  // Nothing of an earlier session (an error shown as it ended) is left on the panels.
  ingest.clear();
  query.clear();
  datasets.clear();
  session = signedIn;
  saveSession(session);
  whoami.textContent = `${session.user.email} · ${session.tenant.name} (${session.tenant.slug}) · ${session.role}`;
  signInSection.hidden = true;
  workspace.hidden = false;
  signOutButton.hidden = false;
  void datasets.load();
  void query.loadEndpoints();
}

function signOut() {
  session = undefined;
  saveSession(undefined);
  // Subscriptions stop and the socket closes: the next user connects with their own token.
  ingest.clear();
  query.clear();
  datasets.clear();
  api.close();
  whoami.textContent = '';
  workspace.hidden = true;
  signOutButton.hidden = true;
  signInSection.hidden = false;
}

signOutButton.addEventListener('click', async () => {
  await logOut(api);
  signOut();
});

wireSignIn({ form: byId('sign-in-form'), errorBox: signInError, api, onSignedIn: signIn });

const restored = restoreSession();
if (restored) signIn(restored);
