/**
 * A model's API key at rest belongs to its row and to where its type sends it: sealed
 * (platform/secrets/secret-box.ts) with the row's id and the origin (scheme, host, port) of
 * the model's server as associated data. A row whose `baseUrl` is pointed elsewhere by any path
 * but `updateModel` with a new key (a script, a bug, a hand-edited row) cannot open its key
 * there: the call fails (INTERNAL) instead of handing the owner's key to another server.
 *
 * Keys sealed before the origin was bound (the row's id alone) still open, unbound, until
 * `sluice rotate-master-key` re-seals them with their origin (rotate-master-key.ts).
 */
import { SecretBoxError, type SecretBox, type Sealed } from '../../platform/secrets/secret-box.js';
import { ValidationError } from '../errors.js';
import { modelType } from './provider.js';
import './providers/index.js';

type Box = Pick<SecretBox, 'seal' | 'open'>;

/** Where a model of `type` with `config` sends its key (ModelType.keyDestination); null: nowhere. */
export function keyDestinationOf(type: string, config: Record<string, unknown>): string | null {
  const known = modelType(type);
  if (!known) throw new SecretBoxError(`model type ${type} is not known: its key's destination cannot be told`);
  return known.keyDestination(config);
}

/** The associated data of a key of row `modelId` sent to `origin` (null: the row alone). */
function binding(modelId: string, origin: string | null): string {
  return origin === null ? modelId : `${modelId}\n${origin}`;
}

export function sealKey(box: Box, key: string, modelId: string, origin: string | null): Sealed {
  return box.seal(key, binding(modelId, origin));
}

/**
 * The key of row `modelId`, opened for `origin`, and whether it was sealed for it (`bound`) or
 * before origins were bound. Throws SecretBoxError when it opens for neither (another origin,
 * another row, another master key, or altered).
 */
export function openKey(box: Box, sealed: Sealed, modelId: string, origin: string | null): { key: string; bound: boolean } {
  try {
    return { key: box.open(sealed, binding(modelId, origin)), bound: true };
  } catch (error) {
    if (origin === null || !(error instanceof SecretBoxError)) throw error;
    try {
      // Sealed with the row's id alone (before origins were bound): a bound key never opens so.
      return { key: box.open(sealed, modelId), bound: false };
    } catch {
      throw error;
    }
  }
}

/**
 * Refuses (BAD_USER_INPUT on `apiKey`, reason KEY_DESTINATION_CHANGED) a change of `config` that
 * would send a stored key to another origin unless the same update gives `apiKey` (a key for
 * the new server, or null for none). Whoever may edit a model may not learn its key, which its
 * creator may have set: kept, it would go with the next call to whatever server they named.
 */
export function assertKeyFollowsDestination(model: { apiKeyCiphertext?: string | null }, from: string | null, to: string | null, apiKeyGiven: boolean): void {
  if (from === to || apiKeyGiven || model.apiKeyCiphertext == null) return;
  throw new ValidationError(
    `apiKey must be given when config.baseUrl moves the model from ${from ?? 'no server'} to ${to ?? 'no server'}: its stored key is for ${from ?? 'no server'} only (give the key for the new server, or null to send none)`,
    { field: 'apiKey', reason: 'KEY_DESTINATION_CHANGED', from, to },
  );
}
