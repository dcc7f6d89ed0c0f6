/**
 * Readable names for the ids audit events, decisions and usage rows carry: an API key's name
 * and prefix instead of `apiKey:<uuid>`, a member's email instead of `user:<uuid>`.
 */
import { ActorDirectoryDocument, SluiceError, type SluiceClient } from '../sdk/index.js';

/** `(kind, id, email?)` → what to show. */
export type ActorName = (kind: string, id: string | null | undefined, email?: string | null) => string;

/**
 * Loads the tenant's keys and members once (the first 100 of each: past that, the rest show
 * their kind and id, as does anyone the caller may not list).
 */
export async function actorNames(client: SluiceClient): Promise<ActorName> {
  const names = new Map<string, string>();
  try {
    const { viewer } = await client.query(ActorDirectoryDocument);
    for (const { node } of viewer.tenant?.apiKeys.edges ?? []) names.set(`apikey:${localId(node.id)}`, `key ${node.name} (${node.prefix}…)`);
    for (const { node } of viewer.tenant?.members.edges ?? []) if (node.user.email) names.set(`user:${localId(node.user.id)}`, node.user.email);
  } catch (error) {
    // Not allowed to list them (a VIEWER, a read key): the ids are still right, just less readable.
    if (!(error instanceof SluiceError) || !['FORBIDDEN', 'UNAUTHENTICATED'].includes(error.code)) throw error;
  }
  return (kind, id, email) => {
    if (email) return email;
    if (!id) return kind.toLowerCase();
    return names.get(`${kind.toLowerCase()}:${id}`) ?? `${kind.toLowerCase()}:${id}`;
  };
}

/** The uuid inside a global id, which is base64("Type:uuid") (src/schema/builder.ts). */
function localId(globalId: string): string {
  return Buffer.from(globalId, 'base64').toString('utf8').split(':')[1] ?? globalId;
}
