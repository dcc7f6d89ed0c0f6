/**
 * The console's way to Sluice: the project's typed SDK (src/sdk/), bundled for the browser,
 * talking to /graphql of the server that served the page.
 */
import { createClient, SluiceError, type Session, type SluiceClient } from '../../sdk/index.js';

export { SluiceError };

/** /graphql of this page's own server (the console is served by Sluice itself). */
export const GRAPHQL_URL = new URL('/graphql', window.location.origin).toString();

/** A client for signed-out calls: sign up, sign in. */
export function anonymousClient(): SluiceClient {
  return createClient({ url: GRAPHQL_URL });
}

/**
 * A client for a session: it refreshes the session before its token expires and tells
 * `onSession` each time (refresh tokens are single-use: the next one must be kept).
 */
export function sessionClient(session: Session, onSession: (session: Session) => void): SluiceClient {
  return createClient({ url: GRAPHQL_URL, session, onSession });
}

/** What to show for a failure: the API's message, its code and the request id to report. */
export function describeError(error: unknown): { message: string; code?: string; requestId?: string; details: string[] } {
  if (error instanceof SluiceError) {
    // A path is a list (datasets' input checks) or a dotted string (a policy's configuration: `configuration.patterns.0`).
    const issues = (error.details as { issues?: { path?: string[] | string; message: string }[] }).issues ?? [];
    return {
      message: error.message,
      code: error.code,
      requestId: error.requestId ?? undefined,
      details: issues.map((issue) => `${(Array.isArray(issue.path) ? issue.path.join('.') : issue.path) || 'input'}: ${issue.message}`),
    };
  }
  return { message: error instanceof Error ? error.message : String(error), details: [] };
}

/**
 * The input fields a refusal names, each with what is wrong (`config.temperature` → "Too big…"),
 * so a form can mark them: an issue's path, else the one `field` the error names.
 */
export function invalidFields(error: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (!(error instanceof SluiceError)) return fields;
  const details = error.details as { issues?: { path?: string[] | string; message: string }[]; field?: unknown };
  for (const issue of details.issues ?? []) {
    const path = Array.isArray(issue.path) ? issue.path.join('.') : issue.path;
    if (path && !fields.has(path)) fields.set(path, issue.message);
  }
  if (fields.size === 0 && typeof details.field === 'string') fields.set(details.field, error.message);
  return fields;
}
