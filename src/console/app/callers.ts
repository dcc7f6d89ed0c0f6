/**
 * The tenant's callers by name, for views that show logs keeping only ids (the decision log, the
 * usage charts split by caller): every member's email and every API key's name and prefix, read
 * 100 a request however many there are. Callers of other tenants (on published endpoints) and
 * anonymous ones have no name here.
 */
import { ConsoleCallerKeysDocument, ConsoleCallerMembersDocument, type SluiceClient } from '../../sdk/index.js';
import { everyPage } from './every-page.js';

export interface TenantCallers {
  /** By the user's uuid (what logs keep as a user caller's id). */
  members: Map<string, string>;
  /** By the key's uuid. */
  apiKeys: Map<string, { name: string; prefix: string }>;
}

const EMPTY = { edges: [], pageInfo: { hasNextPage: false } };

export async function readTenantCallers(client: SluiceClient): Promise<TenantCallers> {
  const [members, apiKeys] = await Promise.all([
    everyPage(async (after) => (await client.query(ConsoleCallerMembersDocument, { after })).viewer.tenant?.members ?? EMPTY),
    everyPage(async (after) => (await client.query(ConsoleCallerKeysDocument, { after })).viewer.tenant?.apiKeys ?? EMPTY),
  ]);
  return {
    members: new Map(members.flatMap((member) => (member.user.email ? [[uuidOf(member.user.id), member.user.email] as const] : []))),
    apiKeys: new Map(apiKeys.map((key) => [uuidOf(key.id), { name: key.name, prefix: key.prefix }])),
  };
}

/** The uuid inside a global id (base64 of `Type:uuid`), or the text itself when it is not one. */
export function uuidOf(globalId: string): string {
  try {
    const decoded = atob(globalId);
    return decoded.slice(decoded.indexOf(':') + 1);
  } catch {
    return globalId;
  }
}
