// @ts-check
/**
 * Who is signed in. The access token lives in memory and in sessionStorage (this tab only,
 * gone when the tab closes, so a reload keeps you signed in), never in localStorage. The
 * refresh token is not kept at all: when the access token expires, you sign in again.
 */
import { clearError, showError } from './dom.js';

const STORAGE_KEY = 'sluice.console.session';

const LOG_IN = `mutation ConsoleLogIn($input: LogInInput!) {
  logIn(input: $input) { accessToken expiresAt role tenant { slug name } user { email } }
}`;

/**
 * @typedef {object} Session
 * @property {string} accessToken
 * @property {string} expiresAt
 * @property {string} role
 * @property {{ slug: string, name: string }} tenant
 * @property {{ email: string }} user
 */

/** @returns {Session | undefined} */
export function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    if (saved && typeof saved.accessToken === 'string' && Date.parse(saved.expiresAt) > Date.now()) return saved;
  } catch {
    // Unreadable (or storage disabled): sign in again.
  }
  sessionStorage.removeItem(STORAGE_KEY);
  return undefined;
}

/** @param {Session | undefined} session */
export function saveSession(session) {
  try {
    if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

/**
 * Wires the sign-in form: logIn as application/json, then `onSignedIn(session)`.
 * @param {{ form: HTMLFormElement, errorBox: HTMLElement, api: ReturnType<typeof import('./api.js').createApi>, onSignedIn: (session: Session) => void }} options
 */
export function wireSignIn({ form, errorBox, api, onSignedIn }) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError(errorBox);
    const fields = new FormData(form);
    const email = String(fields.get('email') ?? '').trim();
    const password = String(fields.get('password') ?? '');
    const tenant = String(fields.get('tenant') ?? '').trim();
    if (!email || !password) return showError(errorBox, new Error('Enter your email and password.'));
    const button = form.querySelector('button[type="submit"]');
    button?.setAttribute('disabled', '');
    try {
      const data = await api.request(LOG_IN, { input: { email, password, ...(tenant ? { tenant } : {}) } });
      form.reset();
      onSignedIn(data.logIn);
    } catch (error) {
      showError(errorBox, error);
    } finally {
      button?.removeAttribute('disabled');
    }
  });
}

/**
 * Best effort: ends the session on the server too (the token stops working at once).
 * @param {ReturnType<typeof import('./api.js').createApi>} api
 */
export async function logOut(api) {
  await api.request('mutation ConsoleLogOut { logOut }').catch(() => undefined);
}
