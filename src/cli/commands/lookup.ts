/**
 * Finding what a command names the way people name it (a slug, a name, a key's prefix) rather
 * than by its global id, and the small option readers several commands share.
 */
import { EndpointDocument, ModelsDocument, ViewerDocument, type EndpointFieldsFragment, type ModelFieldsFragment, type Permission, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Cli } from '../cli.js';
import { askLine } from '../prompt.js';
import { terminalText } from '../terminal-text.js';

/** A connection's page, as every list query returns it. */
interface Page<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/**
 * The most pages a listing reads: a million items at 100 a page, beyond any tenant's keys,
 * members or datasets and the largest dataset's documents. A server whose pages never end
 * (always `hasNextPage`, a new cursor each time) is refused here rather than followed forever.
 */
export const MAX_PAGES = 10_000;

/**
 * Every node of a connection, 100 a request; refused (exit 1) when the server names a cursor it
 * named before (its pages go round in a circle) or past MAX_PAGES.
 */
export async function allPages<T>(fetch: (after: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const nodes: T[] = [];
  const seen = new Set<string>();
  let after: string | undefined;
  for (let pages = 1; ; pages += 1) {
    const page = await fetch(after);
    for (const { node } of page.edges) nodes.push(node);
    after = page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? undefined) : undefined;
    if (after === undefined) return nodes;
    if (seen.has(after)) throw new CliError(`the server's pages go round in a circle (page ${pages + 1} would start at a cursor it gave before): stopped after ${pages} pages`, EXIT.failed);
    if (pages >= MAX_PAGES) throw new CliError(`the server's pages did not end: stopped after ${MAX_PAGES} pages (${nodes.length} items)`, EXIT.failed);
    seen.add(after);
  }
}

/** One of the tenant's endpoints by slug (`tenant/slug` is accepted too, for the tenant's own). */
export async function findEndpoint(client: SluiceClient, reference: string): Promise<EndpointFieldsFragment> {
  const slug = reference.includes('/') ? reference.slice(reference.indexOf('/') + 1) : reference;
  const { endpoint } = /^[a-z0-9-]+$/.test(slug) ? await client.query(EndpointDocument, { slug }) : { endpoint: null };
  if (!endpoint || (reference.includes('/') && endpoint.reference !== reference)) throw new CliError(`no endpoint "${reference}" in your tenant (see \`sluice endpoints list\`)`, EXIT.failed);
  return endpoint;
}

/**
 * Whether the caller may read configuration (CONFIG_READ), as the server's rule table says in
 * `viewer.permissions`, so a command asks for it only then: a refused field fails the whole request.
 */
export function mayReadConfiguration(client: SluiceClient): Promise<boolean> {
  return holds(client, 'CONFIG_READ');
}

/** Whether the caller holds `permission` now, as the server's rule table says (`viewer.permissions`). */
export async function holds(client: SluiceClient, permission: Permission): Promise<boolean> {
  const { viewer } = await client.query(ViewerDocument);
  return viewer.permissions.includes(permission);
}

/** Every one of the tenant's models, oldest first; their configuration and key ending only if asked. */
export function allModels(client: SluiceClient, withConfig = false): Promise<ModelFieldsFragment[]> {
  return allPages(async (after) => (await client.query(ModelsDocument, { first: 100, after, withConfig })).models);
}

/** One of the tenant's models by name or id. */
export async function findModel(client: SluiceClient, reference: string): Promise<ModelFieldsFragment> {
  const models = await allModels(client);
  const found = models.find((model) => model.name === reference) ?? models.find((model) => model.id === reference);
  if (!found) throw new CliError(`no model "${reference}" in your tenant (see \`sluice models list\`)`, EXIT.failed);
  return found;
}

/** A JSON object given on the command line (`--config '{"maxSentences": 2}'`). */
export function jsonObjectOption(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(value));
  } catch (error) {
    throw new CliError(`${name} is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${name} must be a JSON object, e.g. {"maxSentences": 2}`, EXIT.usage);
  return parsed as Record<string, unknown>;
}

export function numberOption(value: unknown, name: string, { integer = false, min }: { integer?: boolean; min?: number } = {}): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || (integer && !Number.isInteger(number)) || (min !== undefined && number < min)) {
    throw new CliError(`${name} must be ${integer ? 'a whole number' : 'a number'}${min !== undefined ? ` of ${min} or more` : ''}`, EXIT.usage);
  }
  return number;
}

/** A point in time: an ISO date or time, or a duration back from now (`30m`, `24h`, `7d`). */
export function sinceOption(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const ago = /^(\d+)([mhd])$/.exec(text);
  if (ago) return new Date(Date.now() - Number(ago[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 'm' | 'h' | 'd']).toISOString();
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new CliError(`${name} must be a date (2026-12-01, 2026-12-01T10:00Z) or a duration back from now (30m, 24h, 7d)`, EXIT.usage);
  return new Date(time).toISOString();
}

/**
 * Whether to go on with something that cannot be undone: --yes says so; at a terminal the user
 * types the name; anywhere else (a script, a pipe) it refuses rather than guess.
 */
export async function confirmed(cli: Cli, yes: unknown, what: string, name: string): Promise<void> {
  if (yes) return;
  if (!(cli.stdin as NodeJS.ReadStream).isTTY) throw new CliError(`this deletes ${what} for good: pass --yes to confirm`, EXIT.usage);
  // What is asked for is what is shown: a name stored with control characters is typed without them.
  const shown = terminalText(name);
  const typed = await askLine(`This deletes ${what} for good. Type ${shown} to confirm: `, cli.stdin, cli.stderr);
  if (typed !== shown) throw new CliError('not confirmed; nothing was deleted', EXIT.failed);
}
